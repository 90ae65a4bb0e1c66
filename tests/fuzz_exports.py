"""A seeded mutation fuzzer for `prep parse`: every format's export, mutated, must parse or fail with one
`ClonekitError` (file and position), never another exception.

Mutations: byte flips, insertions and deletions, truncation, line shuffles, CR-only or UTF-16 re-encoding, JSON
value type changes (a dict becomes a list, a string a number, a timestamp a huge integer, a key disappears), huge CSV
fields, and for zips both a corrupted archive and a re-zipped mutated member (sometimes "encrypted").

    python -m tests.fuzz_exports --cases 7000                  # a longer run than the test suite's; prints a summary
    python -m tests.fuzz_exports --cases 7000 --per-format     # 7000 mutants of each format's seeds, a row each
    python -m tests.fuzz_exports --cases 7000 --format slack   # one format (a variant as `prep parse` reports it)
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import random
import shutil
import traceback
import zipfile
from collections import Counter
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
_ODD_VALUES = (
    None,
    True,
    0,
    -1,
    10**30,
    1.5e308,
    "",
    "x",
    "2024-13-45T99:99:99",
    [],
    {},
    [1, "a"],
    {"a": 1},
    "9" * 40,
    "\u202f\u200e<Media omitted>",
)


def seed_files(work: Path) -> list[Path]:
    """The exports to mutate: the test fixtures and a small sample corpus in all three formats."""
    from clonekit.samples.exports import write_sample

    work.mkdir(parents=True, exist_ok=True)
    files = [
        p
        for p in sorted(FIXTURES.rglob("*"))
        if p.is_file()
        and p.suffix in SUFFIXES
        and not any(part in FOLDER_EXPORTS for part in p.parts)
        and not p.name.startswith("make_")
    ]
    info = write_sample(work / "sample", weeks=1, corpus="small")
    files += [work / "sample" / name for name in info["files"].values()]
    # exports that are a folder: one file inside is mutated
    return (
        files
        + [FIXTURES / "discord" / "package", FIXTURES / "slack" / "workspace"]
        + [FIXTURES / "telegram_html" / "ChatExport_2024-01-15"]
    )


SUFFIXES = (".txt", ".json", ".csv", ".zip", ".html", ".xml", ".md", ".db")
FOLDER_EXPORTS = ("package", "workspace", "ChatExport_2024-01-15")


def variant_of(src: Path) -> str:
    """The format `prep parse` finds in an unmutated seed."""
    from clonekit.data_prep.parse import detect_format
    from clonekit.errors import ClonekitError

    try:
        return detect_format(src).variant
    except ClonekitError:
        return "refused"  # a seed that is already damaged (truncated.json)


def _mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    data = bytearray(data)
    op = rng.choice(("flip", "insert", "delete", "truncate", "dup", "crlf", "nul"))
    if not data:
        return bytes(rng.randbytes(rng.randint(1, 64)))
    i = rng.randrange(len(data))
    if op == "flip":
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif op == "insert":
        data[i:i] = rng.choice((rng.randbytes(rng.randint(1, 16)), b"\n", b'"', b"\r", b"\xe2\x80\xaf", b"\xff\xfe"))
    elif op == "delete":
        del data[i : i + rng.randint(1, 32)]
    elif op == "truncate":
        del data[i:]
    elif op == "dup":
        j = rng.randrange(len(data))
        data[j:j] = data[i : i + rng.randint(1, 200)]
    elif op == "crlf":
        data = bytearray(bytes(data).replace(b"\n", rng.choice((b"\r", b"\r\n", b"\n\n"))))
    else:
        data[i:i] = b"\x00" * rng.randint(1, 4)
    return bytes(data)


def _walk(obj, path=()):
    yield path, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:50]):
            yield from _walk(v, path + (i,))


def _mutate_json(data: bytes, rng: random.Random) -> bytes:
    obj = json.loads(data.decode("utf-8-sig"))
    for _ in range(rng.randint(1, 3)):
        nodes = list(_walk(obj))
        path, node = rng.choice(nodes)
        op = rng.choice(("replace", "drop", "wrap", "listify"))
        if not path:
            obj = [obj] if op in ("wrap", "listify") else copy.deepcopy(rng.choice(_ODD_VALUES))
            continue
        parent = obj
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        if op == "replace":
            parent[key] = copy.deepcopy(rng.choice(_ODD_VALUES))  # a fresh copy: mutants never share objects
        elif op == "drop" and isinstance(parent, dict):
            del parent[key]
        elif op == "wrap":
            parent[key] = [node]
        else:
            parent[key] = list(node.values()) if isinstance(node, dict) else {"value": node}
    return json.dumps(obj, ensure_ascii=rng.random() < 0.5).encode()


def _mutate_text(data: bytes, rng: random.Random) -> bytes:
    op = rng.choice(("bytes", "reencode", "shuffle", "bigfield"))
    if op == "reencode":
        text = data.decode("utf-8-sig", "replace")
        return rng.choice(
            (
                lambda t: t.encode("utf-16"),
                lambda t: t.replace("\n", "\r").encode(),
                lambda t: t.encode("latin-1", "replace"),
                lambda t: t.encode("utf-16-le"),
            )
        )(text)
    if op == "shuffle":
        lines = data.split(b"\n")
        rng.shuffle(lines)
        return b"\n".join(lines)
    if op == "bigfield":
        lines = data.split(b"\n")
        i = rng.randrange(len(lines))
        lines[i] = lines[i] + b"x" * rng.choice((200_000, 1_000)) + rng.choice((b"", b'"'))
        return b"\n".join(lines)
    return _mutate_bytes(data, rng)


def _mutate_zip(path: Path, rng: random.Random) -> bytes:
    data = path.read_bytes()
    if rng.random() < 0.4:
        return _mutate_bytes(data, rng)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info)
            if info.filename.endswith(".txt"):
                content = _mutate_text(content, rng)
            dst.writestr(info.filename, content)
    raw = bytearray(out.getvalue())
    if rng.random() < 0.2:  # set the "encrypted" flag on every entry (local and central headers)
        for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            i = raw.find(sig)
            while i >= 0:
                raw[i + off] |= 1
                i = raw.find(sig, i + 4)
    return bytes(raw)


def mutant(src: Path, rng: random.Random):
    if src.is_dir():
        inner = rng.choice(sorted(p for p in src.rglob("*") if p.is_file()))
        return inner, mutant(inner, rng)
    if src.suffix == ".zip":
        return _mutate_zip(src, rng)
    data = src.read_bytes()
    if src.suffix == ".json" and rng.random() < 0.6:
        try:
            return _mutate_json(data, rng)
        except ValueError:
            pass
    return _mutate_text(data, rng)


def run_case(src: Path, data: bytes | tuple[Path, bytes], work: Path) -> tuple[str, str | None]:
    """("parsed" | "refused", None), or ("crash", traceback). A parse that succeeds must write only valid messages
    (what `prep build` checks line by line) and account for every one it read. For a folder source, `data` is
    (the file inside it, its mutated bytes)."""
    import orjson

    from clonekit.data_prep.parse import ParseOptions, parse_exports
    from clonekit.data_prep.people import message_problem
    from clonekit.errors import ClonekitError

    target = work / src.name
    if src.is_dir():
        shutil.copytree(src, target)
        inner, content = data
        (target / inner.relative_to(src)).write_bytes(content)
    else:
        target.write_bytes(data)
    out = work / "messages.jsonl"
    try:
        report = parse_exports([target], out, ParseOptions(workers=1, max_unzipped_mb=64))
    except ClonekitError:
        return "refused", None
    except Exception:  # noqa: BLE001 - the point of the fuzzer
        return "crash", traceback.format_exc()
    finally:
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    with open(out, "rb") as f:
        for i, line in enumerate(f, 1):
            problem = message_problem(orjson.loads(line))
            if problem:
                return "crash", f"invalid message at {out.name}:{i}: {problem}"
    if not report.balanced():
        return "crash", "unbalanced report"
    return "parsed", None


def fuzz(cases: int, seed: int, work: Path, variant: str | None = None) -> tuple[Counter, list[tuple[str, str]]]:
    """Run `cases` mutants (of the seeds of one `variant` only, if given); return (outcome counts,
    [(case, traceback)] for the crashes)."""
    rng = random.Random(seed)
    sources = seed_files(work / "seeds")
    if variant is not None:
        sources = [s for s in sources if variant_of(s) == variant]
        if not sources:
            raise SystemExit(f"no seed of format {variant!r}")
    case_dir = work / "cases"
    case_dir.mkdir(parents=True, exist_ok=True)
    outcomes: Counter = Counter()
    crashes = []
    for i in range(cases):
        src = sources[i % len(sources)]
        data = mutant(src, rng)
        outcome, crash = run_case(src, data, case_dir)
        outcomes[outcome] += 1
        if crash:
            crashes.append((f"case {i} ({src.name}, seed {seed})", crash))
    shutil.rmtree(case_dir, ignore_errors=True)
    return outcomes, crashes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=7000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=Path("/tmp/clonekit-fuzz"))
    ap.add_argument("--format", help="only this format's seeds (a variant: slack, meta-json, whatsapp, ...)")
    ap.add_argument("--per-format", action="store_true", help="--cases mutants of each format in turn, a row each")
    args = ap.parse_args()
    if args.per_format:
        variants = sorted({variant_of(s) for s in seed_files(args.work / "seeds")})
        print(f"{'format':<20} {'cases':>6} {'parsed':>7} {'refused':>8} {'tracebacks':>10}")
        failed = []
        for v in variants:
            outcomes, crashes = fuzz(args.cases, args.seed, args.work / v, v)
            print(f"{v:<20} {args.cases:>6} {outcomes['parsed']:>7} {outcomes['refused']:>8} {outcomes['crash']:>10}")
            if crashes:
                print("   ", crashes[0][0], crashes[0][1].strip().splitlines()[-1][:200])
            failed += crashes
        if failed:
            print("\nfirst crash:", failed[0][0], "\n", failed[0][1])
        raise SystemExit(1 if failed else 0)
    outcomes, crashes = fuzz(args.cases, args.seed, args.work, args.format)
    sites = Counter(tb.strip().splitlines()[-1][:120] for _, tb in crashes)
    print(
        f"{args.cases} cases: {outcomes['parsed']} parsed, {outcomes['refused']} refused with a clear error, "
        f"{outcomes['crash']} crashed"
    )
    for site, n in sites.most_common():
        print(f"  {n:5d}  {site}")
    if crashes:
        print("\nfirst crash:", crashes[0][0], "\n", crashes[0][1])


if __name__ == "__main__":
    main()
