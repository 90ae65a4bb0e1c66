/* The compiled inner loop of `prep parse` for large WhatsApp exports (data_prep/whatsapp_kernel.py drives it).

   Why C and not a library: no package parses WhatsApp exports at this speed (whatstk takes 9.8 s for 1M
   messages, pandas underneath), and the Python path (whatsapp_parallel.dump_chunk) is already one `map` of a
   built-in per step: what is left is Python's per-object cost, ~2.5 us a message.

   The kernel is exact by construction, not by approximation: it writes a message itself only when that message is
   a plain one-line text by an ordinary author with a valid date and time, decided by the same rules as
   dump_chunk's `plain` mask; every other message goes to the Python callback `slow`, which runs the Python code
   that decides everything else (MessageBuilder). Where the kernel cannot be sure of a rule (a header line with a
   non-ASCII Unicode digit, a block that does not start at a header), it returns None and the block is parsed in
   Python. tests/data_prep/test_whatsapp_kernel.py compares the two paths byte for byte. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    char *p;
    Py_ssize_t n, cap;
} Buf;

static int buf_reserve(Buf *b, Py_ssize_t extra) {
    if (b->n + extra <= b->cap) return 0;
    Py_ssize_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->n + extra) cap *= 2;
    char *p = PyMem_Realloc(b->p, cap);
    if (!p) {
        PyErr_NoMemory();
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline int buf_put(Buf *b, const char *s, Py_ssize_t n) {
    if (n == 0) return 0; /* memcpy into a buffer not allocated yet is undefined even for 0 bytes */
    if (buf_reserve(b, n) < 0) return -1;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    return 0;
}

/* ---- UTF-8 (the block was decoded once in Python: it is valid) ---- */

static inline Py_UCS4 utf8_at(const unsigned char *s, Py_ssize_t i, Py_ssize_t end, Py_ssize_t *len) {
    unsigned char c = s[i];
    if (c < 0x80) {
        *len = 1;
        return c;
    }
    if (c < 0xE0 && i + 1 < end) {
        *len = 2;
        return ((Py_UCS4)(c & 0x1F) << 6) | (s[i + 1] & 0x3F);
    }
    if (c < 0xF0 && i + 2 < end) {
        *len = 3;
        return ((Py_UCS4)(c & 0x0F) << 12) | ((Py_UCS4)(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
    }
    if (i + 3 < end) {
        *len = 4;
        return ((Py_UCS4)(c & 0x07) << 18) | ((Py_UCS4)(s[i + 1] & 0x3F) << 12) | ((Py_UCS4)(s[i + 2] & 0x3F) << 6) |
               (s[i + 3] & 0x3F);
    }
    *len = 1;
    return c;
}

static inline Py_UCS4 utf8_last(const unsigned char *s, Py_ssize_t start, Py_ssize_t end) {
    Py_ssize_t i = end - 1, len;
    while (i > start && (s[i] & 0xC0) == 0x80) i--;
    return utf8_at(s, i, end, &len);
}

static inline Py_ssize_t utf8_chars(const unsigned char *s, Py_ssize_t start, Py_ssize_t end) {
    Py_ssize_t n = 0;
    for (Py_ssize_t i = start; i < end; i++) n += (s[i] & 0xC0) != 0x80;
    return n;
}

/* _MARKS = " \u200e\u200f\u202a\u202c\ufeff" */
static inline int is_mark(Py_UCS4 c) {
    return c == ' ' || c == 0x200E || c == 0x200F || c == 0x202A || c == 0x202C || c == 0xFEFF;
}

/* ---- the header: whatsapp_dates.HEADER_LINES[bracket] at a line start, then the author group ---- */

enum { NO = 0, YES = 1, UNSURE = -1 };

typedef struct {
    Py_ssize_t d0, d1, t0, t1, a0, a1, end; /* date, time, am/pm (a0 == a1: none), end of the header */
} Head;

/* _SP = "[ \u202f\u00a0]": its length in bytes at i, or 0 */
static inline Py_ssize_t sp_at(const unsigned char *s, Py_ssize_t i, Py_ssize_t end) {
    if (i < end && s[i] == ' ') return 1;
    if (i + 1 < end && s[i] == 0xC2 && s[i + 1] == 0xA0) return 2;
    if (i + 2 < end && s[i] == 0xE2 && s[i + 1] == 0x80 && s[i + 2] == 0xAF) return 3;
    return 0;
}

/* \d{lo,hi} at *i (Python's \d is any Unicode decimal digit: one that is not ASCII makes the kernel unsure) */
static inline int digits(const unsigned char *s, Py_ssize_t *i, Py_ssize_t end, int lo, int hi) {
    int n = 0;
    while (n < hi && *i < end) {
        unsigned char c = s[*i];
        if (c >= '0' && c <= '9') {
            (*i)++;
            n++;
            continue;
        }
        if (c >= 0x80) {
            Py_ssize_t len;
            if (Py_UNICODE_ISDECIMAL(utf8_at(s, *i, end, &len))) return UNSURE;
        }
        break;
    }
    return n >= lo ? YES : NO;
}

/* _DATE_SEP = (?:[/-]|\.{_SP}?) */
static inline int date_sep(const unsigned char *s, Py_ssize_t *i, Py_ssize_t end) {
    if (*i >= end) return NO;
    if (s[*i] == '/' || s[*i] == '-') {
        (*i)++;
        return YES;
    }
    if (s[*i] == '.') {
        (*i)++;
        *i += sp_at(s, *i, end);
        return YES;
    }
    return NO;
}

#define STEP(x)               \
    do {                      \
        int r_ = (x);         \
        if (r_ != YES) return r_; \
    } while (0)

/* _AMPM = [AaPp]\.?{_SP}?[Mm]\.? at i: its end, or -1 */
static Py_ssize_t ampm_at(const unsigned char *s, Py_ssize_t i, Py_ssize_t end) {
    if (i >= end || !(s[i] == 'A' || s[i] == 'a' || s[i] == 'P' || s[i] == 'p')) return -1;
    i++;
    if (i < end && s[i] == '.') i++;
    i += sp_at(s, i, end);
    if (i >= end || !(s[i] == 'M' || s[i] == 'm')) return -1;
    i++;
    if (i < end && s[i] == '.') i++;
    return i;
}

/* Every regex step below is greedy and nothing that follows it can start with what it gave back, so the first
   greedy path is the one Python's backtracking matcher takes (tests compare groups on generated headers). */
static int match_header(const unsigned char *s, Py_ssize_t i, Py_ssize_t end, int bracket, Head *h) {
    /* [\u200e\u200f\ufeff]* */
    for (;;) {
        if (i + 2 < end && s[i] == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0x8E || s[i + 2] == 0x8F))
            i += 3;
        else if (i + 2 < end && s[i] == 0xEF && s[i + 1] == 0xBB && s[i + 2] == 0xBF)
            i += 3;
        else
            break;
    }
    if (bracket) {
        if (i >= end || s[i] != '[') return NO;
        i++;
    }
    h->d0 = i;
    STEP(digits(s, &i, end, 1, 4));
    STEP(date_sep(s, &i, end));
    STEP(digits(s, &i, end, 1, 2));
    STEP(date_sep(s, &i, end));
    STEP(digits(s, &i, end, 1, 4));
    h->d1 = i;
    /* _BETWEEN = \.?,?{_SP}(?:klo{_SP}|um{_SP}|à{_SP}|kl\.{_SP})? */
    if (i < end && s[i] == '.') i++;
    if (i < end && s[i] == ',') i++;
    Py_ssize_t sp = sp_at(s, i, end);
    if (!sp) return NO;
    i += sp;
    {
        Py_ssize_t w = 0;
        if (i + 3 <= end && memcmp(s + i, "klo", 3) == 0)
            w = 3;
        else if (i + 2 <= end && memcmp(s + i, "um", 2) == 0)
            w = 2;
        else if (i + 2 <= end && s[i] == 0xC3 && s[i + 1] == 0xA0) /* à */
            w = 2;
        else if (i + 3 <= end && memcmp(s + i, "kl.", 3) == 0)
            w = 3;
        if (w && (sp = sp_at(s, i + w, end)) > 0) i += w + sp;
    }
    /* _TIME = \d{1,2}[:.]\d{2}(?:[:.]\d{2})? */
    h->t0 = i;
    STEP(digits(s, &i, end, 1, 2));
    if (i >= end || !(s[i] == ':' || s[i] == '.')) return NO;
    i++;
    STEP(digits(s, &i, end, 2, 2));
    if (i < end && (s[i] == ':' || s[i] == '.')) {
        Py_ssize_t j = i + 1;
        int r = digits(s, &j, end, 2, 2);
        if (r == UNSURE) return UNSURE;
        if (r == YES) i = j;
    }
    h->t1 = i;
    /* (?:{_SP}?({_AMPM}))? */
    h->a0 = h->a1 = i;
    {
        Py_ssize_t j = i + sp_at(s, i, end);
        Py_ssize_t k = ampm_at(s, j, end);
        if (k >= 0) {
            h->a0 = j;
            h->a1 = k;
            i = k;
        }
    }
    if (bracket) { /* \]{_SP}? */
        if (i >= end || s[i] != ']') return NO;
        i++;
        i += sp_at(s, i, end);
    } else { /* {_SP}[-–]{_SP} */
        if (!(sp = sp_at(s, i, end))) return NO;
        i += sp;
        if (i < end && s[i] == '-')
            i++;
        else if (i + 2 < end && s[i] == 0xE2 && s[i + 1] == 0x80 && s[i + 2] == 0x93)
            i += 3;
        else
            return NO;
        if (!(sp = sp_at(s, i, end))) return NO;
        i += sp;
    }
    h->end = i;
    return YES;
}

/* _iso_time: "HH:MM:SS" into out, or 0 when the time is not one */
static int iso_time(const unsigned char *s, Py_ssize_t t0, Py_ssize_t t1, int has_ampm, char pm_letter, char *out) {
    int f[3] = {0, 0, 0}, k = 0;
    for (Py_ssize_t i = t0; i < t1; i++) {
        if (s[i] == ':' || s[i] == '.')
            k++;
        else
            f[k] = f[k] * 10 + (s[i] - '0');
    }
    int h = f[0], mi = f[1], sec = f[2];
    if (has_ampm) {
        if (h > 12) return 0;
        h = h % 12 + ((pm_letter == 'p' || pm_letter == 'P') ? 12 : 0);
    }
    if (h > 23 || mi > 59 || sec > 59) return 0;
    out[0] = '0' + h / 10;
    out[1] = '0' + h % 10;
    out[2] = ':';
    out[3] = '0' + mi / 10;
    out[4] = '0' + mi % 10;
    out[5] = ':';
    out[6] = '0' + sec / 10;
    out[7] = '0' + sec % 10;
    return 1;
}

/* orjson.dumps(str) of valid UTF-8: quotes, backslashes and C0 controls escaped, everything else as it is */
static int put_json_string(Buf *b, const unsigned char *s, Py_ssize_t start, Py_ssize_t end) {
    static const char hex[] = "0123456789abcdef";
    if (buf_reserve(b, 2 + 6 * (end - start)) < 0) return -1;
    char *o = b->p + b->n;
    *o++ = '"';
    Py_ssize_t run = start;
    for (Py_ssize_t i = start; i < end; i++) {
        unsigned char c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        memcpy(o, s + run, i - run);
        o += i - run;
        run = i + 1;
        *o++ = '\\';
        switch (c) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '\b': *o++ = 'b'; break;
            case '\t': *o++ = 't'; break;
            case '\n': *o++ = 'n'; break;
            case '\f': *o++ = 'f'; break;
            case '\r': *o++ = 'r'; break;
            default:
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = hex[c >> 4];
                *o++ = hex[c & 15];
        }
    }
    memcpy(o, s + run, end - run);
    o += end - run;
    *o++ = '"';
    b->n = o - b->p;
    return 0;
}

/* ---- what Python hands the kernel once per chunk ---- */

typedef struct {
    PyObject *head;           /* b'{"platform":"whatsapp","chat":...,"id":"' */
    PyObject *tail;           /* b',"kind":"text",...}\n' */
    PyObject *date_iso;       /* callable: date str -> b"YYYY-MM-DDT" or b"" */
    PyObject *authors;        /* dict: author bytes -> b'"author":...,"text":' or b"" */
    PyObject *author_prefix;  /* callable: author str -> those bytes */
    PyObject *slow;           /* callable: the Python path for one message -> its line or b"" */
    PyObject *plain_text;     /* callable: the plain-text regex's fullmatch (for the cases below) */
    PyObject *notice_firsts;  /* frozenset of code points a notice's first letter may match */
    PyObject *ascii_notices;  /* tuple of lowercase ASCII notice openings (bytes) */
    PyObject *ascii_markers;  /* frozenset of bytes: the markers that are ASCII */
    PyObject *markers;        /* frozenset of str: every marker, casefolded */
    Py_ssize_t marker_max, longest;
    /* built once per call from the above */
    unsigned char ascii_first[128];    /* an ASCII first letter a notice may open with */
    unsigned char marker_len[256];     /* lengths of ASCII markers */
    unsigned char marker_first[128];   /* first letters of ASCII markers */
    struct {
        PyObject *who;    /* bytes (owned) */
        PyObject *prefix; /* owned */
        Py_ssize_t n;     /* plain messages this call wrote for the author, */
        char lo[19];      /* their earliest time */
        Py_ssize_t lo_line; /* (its line: the first of equal times) */
        char hi[19];      /* and their latest */
    } seen[32];
    int n_seen;
    int overflow; /* a plain message by an author past the 32 above: no tally this call */
} Ctx;

/* The plain-text test of whatsapp_parallel._plain_pattern: 1 plain, 0 not, -1 error. */
static int plain_word(Ctx *c, const unsigned char *s, Py_ssize_t w0, Py_ssize_t w1, Py_ssize_t nchars) {
    if (w0 >= w1) return 0;
    Py_ssize_t len;
    Py_UCS4 first = utf8_at(s, w0, w1, &len);
    if (Py_UNICODE_ISSPACE(first) || is_mark(first) || first == '<') return 0;
    if (nchars >= 2) {
        Py_UCS4 last = utf8_last(s, w0, w1);
        if (is_mark(last) || last == '>' || last == ')') return 0;
    }
    int maybe;
    if (first < 128) {
        maybe = c->ascii_first[first];
    } else {
        PyObject *key = PyLong_FromUnsignedLong(first);
        if (!key) return -1;
        maybe = PySet_Contains(c->notice_firsts, key);
        Py_DECREF(key);
        if (maybe < 0) return -1;
    }
    if (!maybe) return 1;
    /* could open like an encryption notice: ASCII openings compared here, anything else by the regex */
    int ascii8 = 1;
    Py_ssize_t i = w0, k = 0;
    for (; i < w1 && k < 8; k++) {
        if (s[i] >= 0x80) {
            ascii8 = 0;
            break;
        }
        i++;
    }
    if (ascii8) {
        Py_ssize_t n = PyTuple_GET_SIZE(c->ascii_notices);
        for (Py_ssize_t j = 0; j < n; j++) {
            PyObject *p = PyTuple_GET_ITEM(c->ascii_notices, j);
            const char *ps = PyBytes_AS_STRING(p);
            Py_ssize_t pn = PyBytes_GET_SIZE(p);
            if (w1 - w0 < pn) continue;
            Py_ssize_t q = 0;
            while (q < pn) {
                unsigned char ch = s[w0 + q];
                if (ch >= 'A' && ch <= 'Z') ch += 32;
                if (ch != (unsigned char)ps[q]) break;
                q++;
            }
            if (q == pn) return 0;
        }
        return 1;
    }
    PyObject *word = PyUnicode_DecodeUTF8((const char *)s + w0, w1 - w0, "strict");
    if (!word) return -1;
    PyObject *m = PyObject_CallOneArg(c->plain_text, word);
    Py_DECREF(word);
    if (!m) return -1;
    int found = m != Py_None;
    Py_DECREF(m);
    return found;
}

/* Is the text a media or deleted marker (casefolded, as in the markers set)? 1, 0, -1 error. */
static int is_marker(Ctx *c, const unsigned char *s, Py_ssize_t w0, Py_ssize_t w1) {
    int ascii = 1;
    for (Py_ssize_t i = w0; i < w1; i++)
        if (s[i] >= 0x80) {
            ascii = 0;
            break;
        }
    int found;
    if (ascii) {
        char low[256];
        Py_ssize_t n = w1 - w0;
        unsigned char f = s[w0];
        if (f >= 'A' && f <= 'Z') f += 32;
        if (n >= (Py_ssize_t)sizeof low || !c->marker_len[n] || !c->marker_first[f]) return 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            unsigned char ch = s[w0 + i];
            low[i] = (ch >= 'A' && ch <= 'Z') ? ch + 32 : ch;
        }
        PyObject *key = PyBytes_FromStringAndSize(low, n);
        if (!key) return -1;
        found = PySet_Contains(c->ascii_markers, key);
        Py_DECREF(key);
        return found;
    }
    PyObject *word = PyUnicode_DecodeUTF8((const char *)s + w0, w1 - w0, "strict");
    if (!word) return -1;
    PyObject *folded = PyObject_CallMethod(word, "casefold", NULL);
    Py_DECREF(word);
    if (!folded) return -1;
    found = PySet_Contains(c->markers, folded);
    Py_DECREF(folded);
    return found;
}

static PyObject *str_or_none(const unsigned char *s, Py_ssize_t a, Py_ssize_t b, int present) {
    if (!present) Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8((const char *)s + a, b - a, "strict");
}

static int ctx_from(PyObject *t, Ctx *c) {
    if (!PyArg_ParseTuple(t, "SSOO!OOOO!O!O!O!nn", &c->head, &c->tail, &c->date_iso, &PyDict_Type, &c->authors,
                          &c->author_prefix, &c->slow, &c->plain_text, &PyFrozenSet_Type, &c->notice_firsts,
                          &PyTuple_Type, &c->ascii_notices, &PyFrozenSet_Type, &c->ascii_markers, &PyFrozenSet_Type,
                          &c->markers, &c->marker_max, &c->longest))
        return -1;
    memset(c->ascii_first, 0, sizeof c->ascii_first);
    memset(c->marker_len, 0, sizeof c->marker_len);
    memset(c->marker_first, 0, sizeof c->marker_first);
    c->n_seen = 0;
    c->overflow = 0;
    for (int ch = 0; ch < 128; ch++) {
        PyObject *key = PyLong_FromLong(ch);
        if (!key) return -1;
        int r = PySet_Contains(c->notice_firsts, key);
        Py_DECREF(key);
        if (r < 0) return -1;
        c->ascii_first[ch] = (unsigned char)r;
    }
    PyObject *it = PyObject_GetIter(c->ascii_markers), *m;
    if (!it) return -1;
    while ((m = PyIter_Next(it))) {
        if (PyBytes_Check(m) && PyBytes_GET_SIZE(m) > 0 && PyBytes_GET_SIZE(m) < 256) {
            unsigned char f = (unsigned char)PyBytes_AS_STRING(m)[0];
            c->marker_len[PyBytes_GET_SIZE(m)] = 1;
            if (f < 128) c->marker_first[f] = 1;
        }
        Py_DECREF(m);
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

PyDoc_STRVAR(scan_doc,
             "scan(data, bracket, final, lineno, ctx) -> (lines, stamps, sizes, plain, consumed, lineno, unsure, tally)\n\n"
             "Write the messages of `data` (bytes that start at a header line) as JSON lines. Not `final`: the last\n"
             "message may go on in the next block, so it is left (`consumed` is where it starts). `unsure`: the\n"
             "kernel stopped at `consumed`, before a message it cannot be sure of (a header with a non-ASCII digit\n"
             "next to it, or data that does not start at a header): the rest of the block is Python's. `tally`: for\n"
             "each author of a plain message, (prefix, count, earliest time, its line, latest time); None when the\n"
             "block had more than 32 authors.");

static PyObject *scan(PyObject *self, PyObject *args) {
    Py_buffer view;
    int bracket, final;
    Py_ssize_t lineno;
    PyObject *ctx_tuple;
    if (!PyArg_ParseTuple(args, "y*ppnO!", &view, &bracket, &final, &lineno, &PyTuple_Type, &ctx_tuple)) return NULL;
    Ctx c;
    c.n_seen = 0;
    c.overflow = 0;
    PyObject *result = NULL;
    Buf out = {0}, stamps = {0}, sizes = {0};
    PyObject *last_date = NULL, *last_iso = NULL;
    if (ctx_from(ctx_tuple, &c) < 0) goto done;
    const unsigned char *s = view.buf;
    const Py_ssize_t n = view.len;
    Head h;
    Py_ssize_t pos = 0, plain = 0;
    int unsure = 0;
    int r = n ? match_header(s, 0, n, bracket, &h) : NO;
    if (r != YES) { /* not a block that starts at a header (or unsure): the Python path */
        unsure = 1;
        goto finish;
    }
    for (;;) {
        /* the message runs to the next line that is a header (or to the end of the data) */
        Py_ssize_t line_end = pos, next = -1, steps = 1;
        Head nh;
        for (;;) {
            const unsigned char *nl = memchr(s + line_end, '\n', n - line_end);
            if (!nl) {
                line_end = n;
                break;
            }
            line_end = nl - s;
            if (line_end + 1 >= n) break;
            r = match_header(s, line_end + 1, n, bracket, &nh);
            if (r == UNSURE) { /* this message and what follows: the Python path (nothing of it done here) */
                unsure = 1;
                goto finish;
            }
            if (r == YES) {
                next = line_end + 1;
                break;
            }
            steps++;
            line_end++;
        }
        if (next < 0 && !final) break; /* the last message of a block that is not the last: left for the next */
        Py_ssize_t body_end = next >= 0 ? next - 1 : (n && s[n - 1] == '\n' ? n - 1 : n);
        /* the author: the text before the first ": " of the header line */
        const unsigned char *first_nl = memchr(s + h.end, '\n', body_end - h.end);
        Py_ssize_t line1 = first_nl ? first_nl - s : body_end;
        Py_ssize_t who0 = h.end, who1 = -1;
        for (Py_ssize_t i = h.end; i + 1 < line1; i++) {
            if (s[i] == ':' && s[i + 1] == ' ') {
                who1 = i;
                break;
            }
        }
        Py_ssize_t b0 = who1 >= 0 ? who1 + 2 : h.end;
        /* date (cached: a day's messages share it) and time */
        PyObject *iso = NULL;
        if (last_date && PyBytes_GET_SIZE(last_date) == h.d1 - h.d0 &&
            memcmp(PyBytes_AS_STRING(last_date), s + h.d0, h.d1 - h.d0) == 0) {
            iso = last_iso;
        } else {
            PyObject *d = PyUnicode_DecodeUTF8((const char *)s + h.d0, h.d1 - h.d0, "strict");
            if (!d) goto done;
            iso = PyObject_CallOneArg(c.date_iso, d);
            Py_DECREF(d);
            if (!iso) goto done;
            if (!PyBytes_Check(iso)) {
                Py_DECREF(iso);
                PyErr_SetString(PyExc_TypeError, "date_iso must return bytes");
                goto done;
            }
            Py_XDECREF(last_date);
            Py_XDECREF(last_iso);
            last_date = PyBytes_FromStringAndSize((const char *)s + h.d0, h.d1 - h.d0);
            last_iso = iso;
            if (!last_date) goto done;
        }
        char stamp[19];
        int stamp_ok = PyBytes_GET_SIZE(iso) == 11 &&
                       iso_time(s, h.t0, h.t1, h.a1 > h.a0, h.a1 > h.a0 ? s[h.a0] : 0, stamp + 11);
        if (stamp_ok) memcpy(stamp, PyBytes_AS_STRING(iso), 11);
        /* the author's bytes */
        PyObject *prefix = NULL; /* borrowed */
        int sk = -1;             /* its entry in c.seen */
        for (int k = 0; who1 > who0 && k < c.n_seen; k++) {
            if (PyBytes_GET_SIZE(c.seen[k].who) == who1 - who0 &&
                memcmp(PyBytes_AS_STRING(c.seen[k].who), s + who0, who1 - who0) == 0) {
                prefix = c.seen[k].prefix;
                sk = k;
                break;
            }
        }
        if (who1 > who0 && !prefix) {
            PyObject *key = PyBytes_FromStringAndSize((const char *)s + who0, who1 - who0);
            if (!key) goto done;
            prefix = PyDict_GetItemWithError(c.authors, key);
            if (!prefix) {
                if (PyErr_Occurred()) {
                    Py_DECREF(key);
                    goto done;
                }
                PyObject *who = PyUnicode_DecodeUTF8((const char *)s + who0, who1 - who0, "strict");
                PyObject *made = who ? PyObject_CallOneArg(c.author_prefix, who) : NULL;
                Py_XDECREF(who);
                if (!made || !PyBytes_Check(made) || PyDict_SetItem(c.authors, key, made) < 0) {
                    if (made && !PyBytes_Check(made)) PyErr_SetString(PyExc_TypeError, "author_prefix: bytes");
                    Py_XDECREF(made);
                    Py_DECREF(key);
                    goto done;
                }
                prefix = made;
                Py_DECREF(made); /* the dict holds it */
            }
            if (c.n_seen < 32) { /* kept for this call: most chats have a few authors */
                c.seen[c.n_seen].who = Py_NewRef(key);
                c.seen[c.n_seen].prefix = Py_NewRef(prefix);
                c.seen[c.n_seen].n = 0;
                sk = c.n_seen++;
            }
            Py_DECREF(key);
        }
        /* dump_chunk's `plain` mask */
        /* dump_chunk's mask takes one-line texts; a text of several lines is written the same way by
           MessageBuilder unless its first line is a media marker or attachment (a caption follows), so those
           first lines go to Python below */
        int is_plain = stamp_ok && prefix && PyBytes_GET_SIZE(prefix) > 0;
        if (is_plain && memchr(s + b0, '\r', body_end - b0)) is_plain = 0; /* "\r" stripped: the Python path */
        Py_ssize_t nchars = 0;
        if (is_plain) {
            nchars = utf8_chars(s, b0, body_end);
            is_plain = nchars <= c.longest - 256;
        }
        if (is_plain) {
            int p = plain_word(&c, s, b0, body_end, nchars);
            if (p < 0) goto done;
            is_plain = p;
        }
        if (is_plain && nchars <= c.marker_max) {
            int m = is_marker(&c, s, b0, body_end);
            if (m < 0) goto done;
            is_plain = !m;
        }
        if (is_plain && steps > 1) { /* the first line: no marker, no "(file attached)", no mark at its end */
            Py_ssize_t f1 = (const unsigned char *)memchr(s + b0, '\n', body_end - b0) - s;
            Py_UCS4 last = f1 > b0 ? utf8_last(s, b0, f1) : 0;
            if (f1 <= b0 || last == ')' || last == '>' || is_mark(last)) {
                is_plain = 0;
            } else if (utf8_chars(s, b0, f1) <= c.marker_max) {
                int m = is_marker(&c, s, b0, f1);
                if (m < 0) goto done;
                is_plain = !m;
            }
        }
        Py_ssize_t before = out.n;
        if (is_plain) {
            char num[32];
            int k = 0;
            {
                char rev[32];
                Py_ssize_t v = lineno;
                int neg = v < 0;
                if (neg) v = -v;
                do {
                    rev[k++] = '0' + v % 10;
                    v /= 10;
                } while (v);
                int j = 0;
                if (neg) num[j++] = '-';
                while (k) num[j++] = rev[--k];
                k = j;
            }
            if (buf_put(&out, PyBytes_AS_STRING(c.head), PyBytes_GET_SIZE(c.head)) < 0 || buf_put(&out, num, k) < 0 ||
                buf_put(&out, "\",\"timestamp\":\"", 15) < 0 || buf_put(&out, stamp, 19) < 0 ||
                buf_put(&out, "\",", 2) < 0 ||
                buf_put(&out, PyBytes_AS_STRING(prefix), PyBytes_GET_SIZE(prefix)) < 0 ||
                put_json_string(&out, s, b0, body_end) < 0 ||
                buf_put(&out, PyBytes_AS_STRING(c.tail), PyBytes_GET_SIZE(c.tail)) < 0)
                goto done;
            plain++;
            if (sk < 0) {
                c.overflow = 1;
            } else if (c.seen[sk].n++ == 0) {
                memcpy(c.seen[sk].lo, stamp, 19);
                memcpy(c.seen[sk].hi, stamp, 19);
                c.seen[sk].lo_line = lineno;
            } else {
                if (memcmp(stamp, c.seen[sk].lo, 19) < 0) {
                    memcpy(c.seen[sk].lo, stamp, 19);
                    c.seen[sk].lo_line = lineno;
                }
                if (memcmp(stamp, c.seen[sk].hi, 19) > 0) memcpy(c.seen[sk].hi, stamp, 19);
            }
        } else {
            PyObject *a = PyLong_FromSsize_t(lineno);
            PyObject *d = str_or_none(s, h.d0, h.d1, 1);
            PyObject *t = str_or_none(s, h.t0, h.t1, 1);
            PyObject *ap = str_or_none(s, h.a0, h.a1, h.a1 > h.a0);
            PyObject *w = str_or_none(s, who0, who1, who1 >= 0);
            PyObject *body = str_or_none(s, b0, body_end, 1);
            PyObject *line = NULL;
            if (a && d && t && ap && w && body)
                line = PyObject_CallFunction(c.slow, "OOOOOOO", a, d, t, ap, w, body, plain ? Py_True : Py_False);
            Py_XDECREF(a);
            Py_XDECREF(d);
            Py_XDECREF(t);
            Py_XDECREF(ap);
            Py_XDECREF(w);
            Py_XDECREF(body);
            if (!line) goto done;
            if (!PyBytes_Check(line) || (PyBytes_GET_SIZE(line) && !stamp_ok)) {
                Py_DECREF(line);
                PyErr_SetString(PyExc_RuntimeError, "slow: a line for a message without a valid time");
                goto done;
            }
            int bad = buf_put(&out, PyBytes_AS_STRING(line), PyBytes_GET_SIZE(line));
            Py_DECREF(line);
            if (bad < 0) goto done;
        }
        if (out.n > before) {
            uint32_t size = (uint32_t)(out.n - before);
            if (buf_put(&stamps, stamp, 19) < 0 || buf_put(&sizes, (const char *)&size, 4) < 0) goto done;
        }
        lineno += steps;
        if (next < 0) {
            pos = n;
            break;
        }
        pos = next;
        h = nh;
    }
finish: {
    PyObject *tally;
    if (c.overflow) {
        tally = Py_NewRef(Py_None);
    } else {
        tally = PyList_New(0);
        for (int k = 0; tally && k < c.n_seen; k++) {
            if (!c.seen[k].n) continue;
            PyObject *row = Py_BuildValue("(Ony#ny#)", c.seen[k].prefix, c.seen[k].n, c.seen[k].lo, (Py_ssize_t)19,
                                          c.seen[k].lo_line, c.seen[k].hi, (Py_ssize_t)19);
            if (!row || PyList_Append(tally, row) < 0) Py_CLEAR(tally);
            Py_XDECREF(row);
        }
        if (!tally) goto done;
    }
    result = Py_BuildValue("(y#y#y#nnnON)", out.p ? out.p : "", out.n, stamps.p ? stamps.p : "", stamps.n,
                           sizes.p ? sizes.p : "", sizes.n, plain, pos, lineno, unsure ? Py_True : Py_False, tally);
}
done:
    for (int k = 0; k < c.n_seen; k++) {
        Py_DECREF(c.seen[k].who);
        Py_DECREF(c.seen[k].prefix);
    }
    Py_XDECREF(last_date);
    Py_XDECREF(last_iso);
    PyMem_Free(out.p);
    PyMem_Free(stamps.p);
    PyMem_Free(sizes.p);
    PyBuffer_Release(&view);
    return result;
}

PyDoc_STRVAR(header_doc, "header(line, bracket) -> (date, time, ampm, end) or None, or 'unsure' (for the tests)");

static PyObject *header(PyObject *self, PyObject *args) {
    Py_buffer view;
    int bracket;
    if (!PyArg_ParseTuple(args, "y*p", &view, &bracket)) return NULL;
    Head h;
    const unsigned char *s = view.buf;
    int r = match_header(s, 0, view.len, bracket, &h);
    PyObject *res;
    if (r == UNSURE)
        res = PyUnicode_FromString("unsure");
    else if (r == NO)
        res = Py_NewRef(Py_None);
    else
        res = Py_BuildValue("(y#y#Nn)", s + h.d0, h.d1 - h.d0, s + h.t0, h.t1 - h.t0,
                            h.a1 > h.a0 ? PyBytes_FromStringAndSize((const char *)s + h.a0, h.a1 - h.a0)
                                        : Py_NewRef(Py_None),
                            h.end);
    PyBuffer_Release(&view);
    return res;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, scan_doc},
    {"header", header, METH_VARARGS, header_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_whatsapp_kernel", NULL, -1, methods};

PyMODINIT_FUNC PyInit__whatsapp_kernel(void) { return PyModule_Create(&module); }
