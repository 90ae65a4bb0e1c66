"""What WhatsApp writes in place of media, deleted messages and system events, in the languages it exports in.

Data only. Matching is case-insensitive (`casefold`), with invisible marks and spaces inside angle brackets
ignored: `< Média vynechána >` is `<média vynechána>`. Sources: the strings of WhatsApp's Android and iOS exports as
collected by open-source chat analyzers (chat-analytics' WhatsApp locale table and others), checked against the
fixtures in tests/data_prep. An unknown marker in a non-English chat would otherwise become a training target, so
`prep stats` shows the most frequent short texts: a marker missing here stands out there.
"""

from __future__ import annotations

# Android: the whole message is the marker ("<Media omitted>"); iOS: "<kind> omitted" after U+200E.
MEDIA_OMITTED = (
    # en
    "<media omitted>", "<image omitted>", "<video omitted>", "<audio omitted>", "<document omitted>",
    "<gif omitted>", "<sticker omitted>", "image omitted", "video omitted", "audio omitted", "sticker omitted",
    "gif omitted", "document omitted", "contact card omitted", "contact omitted", "<view once voice message omitted>",
    # af ar az bg bn ca cs da de el
    "<media weggelaat>", "<تم استبعاد الوسائط>", "<media buraxıldı>", "<media çıxarılmışdır>", "<без файл>",
    "<মিডিয়া বাদ দেওয়া হয়েছে>", "<fitxers multimèdia omesos>", "<mitjans omesos>", "<média vynechány>",
    "<média vynechána>", "<medier udeladt>", "<mediefil udeladt>", "<medien ausgeschlossen>", "<medien weggelassen>",
    "bild weggelassen", "video weggelassen", "audio weggelassen", "sticker weggelassen", "gif weggelassen",
    "dokument weggelassen", "kontaktkarte weggelassen", "<αρχείο παραλήφθηκε>", "<εξαίρεση πολυμέσων>",
    # es et fa fi fr gu he hi hr hu
    "<multimedia omitido>", "<multimedia omitidos>", "<archivo omitido>", "<imagen omitida>", "imagen omitida",
    "video omitido", "audio omitido", "sticker omitido", "gif omitido", "documento omitido", "<meedia välja jäetud>",
    "<meedia ära jäetud>", "<رسانه حذف شد>", "<پيوست نما/آهنگ حذف شد>", "<media jätettiin pois>",
    "<media jätetty pois>", "<médias omis>", "<média omis>", "<fichier omis>", "image absente", "vidéo absente",
    "audio omis", "<મિડિયા છોડી મૂકાયું>", "<મીડિયા અવગણવામાં આવ્યા>", "<המדיה לא נכללה>", "<מדיה הושמטה>",
    "<मीडिया के बिना>", "<medijski zapis izostavljen>", "<média elhagyva>", "<hiányzó médiafájl>",
    # id it ja kk kn ko lo lt lv mk
    "<media tidak disertakan>", "<media dihilangkan>", "<media omessi>", "<media omesso>", "<immagine omessa>",
    "immagine omessa", "video omesso", "audio omesso", "documento omesso", "gif esclusa", "sticker non incluso",
    "<メディアなし>", "<メディアは含まれていません>", "<файлдар қосылмаған>", "<файл қосылған жоқ>",
    "<ಮಾಧ್ಯಮ ಕೈಬಿಡಲಾಗಿದೆ>", "<미디어 파일 제외됨>", "<미디어 파일을 생략한 대화내용>", "<ບໍ່ລວມມີເດຍ>",
    "<medija praleista>", "<praleistas medijos turinys>", "<nav iekļauta multivide>", "<bez multivides>",
    "<без фајлови>", "<без фајл>",
    # ml mr ms nb nl pa pl pt ro ru
    "<മീഡിയ ഒഴിവാക്കി>", "<मीडिया वगळण्यात आला>", "<मीडिया वगळले>", "<media dikecualikan>", "<media disingkirkan>",
    "<media utelatt>", "<uten vedlegg>", "<media weggelaten>", "<ਮੀਡੀਆ ਛੱਡਿਆ>", "<ਮੀਡੀਆ ਛਡਿਆ ਗਿਆ>",
    "<pominięto multimedia>", "<pliki pominięto>", "<ficheiro não revelado>", "<mídia omitida>", "<mídia oculta>",
    "<arquivo de mídia oculto>", "<conținut media omis>", "<без медиафайлов>", "<файл пропущен>",
    "<медиа отсутствует>",
    # sk sl sq sr sv sw ta te th tl tr uk ur uz vi zh
    "<médiá vynechané>", "<datoteke izpuščene>", "<medij izpuščen>", "<media u hoq>", "<media hequr>",
    "<медији су изостављени>", "<media utelämnat>", "<media har utelämnats>", "<media hazijajumuishwa>",
    "<media imerukwa>", "<கோப்புகள் விடப்பட்டன>", "<ஊடகங்கள் நீக்கப்பட்டது>", "<మీడియా విస్మరించబడింది>",
    "<మాధ్యమం విస్మరించబడింది>", "<ไฟล์สื่อถูกลบ>", "<สื่อถูกลบ>", "<inalis ang media>", "<ınalis ang media>",
    "<walang kalakip na media>", "<medya dahil edilmedi>", "<medya atlanmış>", "görüntü dahil edilmedi",
    "<медіа пропущено>", "<میڈیا چھوڑ دیا گیا>", "<میڈیا ہٹا دیا گیا>", "<fayl o‘tkazib yuborildi>",
    "<fayl o'tkazib yuborildi>", "<bỏ qua tệp phương tiện>", "<bỏ qua media>", "<忽略多媒體檔>", "<省略多媒体文件>",
)

# iOS media lines start with U+200E and end with "<kind> omitted" in the chat's language
IOS_OMITTED_ENDINGS = ("omitted", "weggelassen", "omitido", "omitida", "omis", "absente", "dahil edilmedi",
                       "omessa", "omesso", "esclusa", "non incluso", "pominięto", "weggelaten", "utelämnad",
                       "utelämnat", "udeladt", "utelatt", "jätetty pois", "vynecháno", "elhagyva", "omis",
                       "пропущено", "пропущен", "отсутствует", "atlanmış", "disertakan", "dihilangkan")

# "<attached: 00000042-PHOTO-2020-01-01-12-00-00.jpg>" (iOS), per language
ATTACHED_WORDS = ("attached", "angehängt", "adjunto", "pièce jointe", "anexado", "anexo", "allegato", "ekli",
                  "załącznik", "bijlage", "bijgevoegd", "прикреплено", "вкладення", "bifogad", "vedhæftet",
                  "vedlagt", "liite", "příloha", "melléklet", "atașat", "συνημμένο", "מצורף", "مرفق",
                  "lampiran", "đính kèm", "添付", "첨부", "附件")

# "A2Diagramm.graphml (Datei angehängt)" (Android), per language
FILE_ATTACHED = ("file attached", "datei angehängt", "archivo adjunto", "fichier joint", "arquivo anexado",
                 "ficheiro anexado", "file allegato", "dosya ekli", "załączony plik", "plik załączony",
                 "bestand bijgevoegd", "файл прикреплён", "файл прикреплен", "файл прикріплено", "fil bifogad",
                 "fil vedhæftet", "fil vedlagt", "tiedosto liitetty", "soubor připojen", "fájl csatolva",
                 "fișier atașat", "συνημμένο αρχείο", "קובץ מצורף", "ملف مرفق", "file terlampir",
                 "tệp đính kèm", "ファイル添付", "파일 첨부", "附件")

DELETED = (
    "this message was deleted", "you deleted this message", "this message was deleted by admin",
    "diese nachricht wurde gelöscht", "du hast diese nachricht gelöscht",
    "se eliminó este mensaje", "eliminaste este mensaje", "este mensaje fue eliminado",
    "ce message a été supprimé", "vous avez supprimé ce message",
    "questo messaggio è stato eliminato", "hai eliminato questo messaggio",
    "esta mensagem foi apagada", "você apagou esta mensagem", "mensagem apagada", "apagou esta mensagem",
    "dit bericht is verwijderd", "je hebt dit bericht verwijderd",
    "bu mesaj silindi", "bu mesajı sildiniz", "bu mesajı sildin",
    "данное сообщение удалено", "это сообщение удалено", "вы удалили это сообщение", "сообщение удалено",
    "ta wiadomość została usunięta", "usunięto tę wiadomość", "usunąłeś tę wiadomość", "usunęłaś tę wiadomość",
    "pesan ini telah dihapus", "anda menghapus pesan ini", "mesej ini telah dipadam", "anda memadam mesej ini",
    "detta meddelande togs bort", "du tog bort detta meddelande", "denne besked blev slettet",
    "du slettede denne besked", "denne meldingen ble slettet", "du slettet denne meldingen",
    "tämä viesti poistettiin", "poistit tämän viestin", "tato zpráva byla smazána", "smazali jste tuto zprávu",
    "táto správa bola odstránená", "odstránili ste túto správu", "ez az üzenet törölve lett",
    "törölted ezt az üzenetet", "acest mesaj a fost șters", "ai șters acest mesaj",
    "αυτό το μήνυμα διαγράφηκε", "διαγράψατε αυτό το μήνυμα", "це повідомлення видалено",
    "ви видалили це повідомлення", "това съобщение беше изтрито", "изтрихте това съобщение",
    "ova poruka je izbrisana", "izbrisali ste ovu poruku", "ова порука је избрисана", "to sporočilo je bilo izbrisano",
    "הודעה זו נמחקה", "מחקת הודעה זו", "تم حذف هذه الرسالة", "لقد حذفت هذه الرسالة", "این پیام حذف شد",
    "شما این پیام را حذف کردید", "यह संदेश हटा दिया गया था", "आपने यह संदेश हटा दिया", "এই বার্তাটি মুছে ফেলা হয়েছে",
    "یہ پیغام حذف کر دیا گیا", "ข้อความนี้ถูกลบแล้ว", "คุณลบข้อความนี้แล้ว", "tin nhắn này đã bị xóa",
    "bạn đã xóa tin nhắn này", "此消息已删除", "你删除了此消息", "此訊息已刪除", "你已刪除此訊息",
    "このメッセージは削除されました", "メッセージを削除しました", "삭제된 메시지입니다", "메시지를 삭제했습니다",
    "s'ha suprimit aquest missatge", "has suprimit aquest missatge", "ujumbe huu ulifutwa", "ulifuta ujumbe huu",
    "binura ang mensaheng ito", "ši žinutė buvo ištrinta", "šī ziņa tika izdzēsta", "see sõnum kustutati",
    "ky mesazh u fshi", "ова порака е избришана", "бұл хабар жойылды", "bu xabar o‘chirildi",
)

EDITED = (
    "<this message was edited>", "<diese nachricht wurde bearbeitet>", "<se editó este mensaje.>",
    "<este mensaje fue editado>", "<ce message a été modifié>", "<bu mesaj düzenlendi>",
    "<esta mensagem foi editada>", "<questo messaggio è stato modificato>", "<dit bericht is bewerkt>",
    "<это сообщение изменено>", "<сообщение изменено>", "<ההודעה נערכה>", "<ta wiadomość została edytowana>",
    "<pesan ini telah diedit>", "<meddelandet har redigerats>", "<denne besked er redigeret>",
)

# the first message of every chat; iOS writes it under the chat's name, sometimes without its U+200E
ENCRYPTION_NOTICES = (
    "messages and calls are end-to-end encrypted", "messages to this group are now secured with end-to-end",
    "messages to this chat and calls are now secured with end-to-end", "messages you send to this group are now",
    "nachrichten und anrufe sind ende-zu-ende-verschlüsselt", "los mensajes y las llamadas están cifrados de extremo",
    "les messages et les appels sont chiffrés de bout en bout", "i messaggi e le chiamate sono crittografati",
    "as mensagens e as chamadas são protegidas com a criptografia", "as mensagens e as chamadas têm encriptação",
    "berichten en oproepen worden end-to-end versleuteld", "berichten en gesprekken zijn end-to-end versleuteld",
    "mesajlar ve aramalar uçtan uca şifrelidir", "сообщения и звонки защищены сквозным шифрованием",
    "wiadomości i połączenia są szyfrowane end-to-end", "pesan dan panggilan terenkripsi secara end-to-end",
    "meddelanden och samtal är end-to-end-krypterade", "beskeder og opkald er end-to-end-krypteret",
    "meldinger og anrop er ende-til-ende-krypterte", "viestit ja puhelut ovat päästä päähän salattuja",
    "zprávy a hovory jsou koncově šifrované", "az üzenetek és hívások végpontok közötti titkosítással",
    "mesajele și apelurile sunt criptate integral", "τα μηνύματα και οι κλήσεις είναι κρυπτογραφημένα",
    "повідомлення та дзвінки захищені наскрізним шифруванням", "הודעות ושיחות מוצפנות מקצה לקצה",
    "الرسائل والمكالمات مشفرة تمامًا", "संदेश और कॉल एंड-टू-एंड एन्क्रिप्टेड हैं", "tin nhắn và cuộc gọi được mã hóa đầu cuối",
    "ข้อความและการโทรได้รับการเข้ารหัสตั้งแต่ต้นทางถึงปลายทาง", "消息和通话都进行端到端加密", "訊息和通話均經端對端加密",
    "メッセージと通話はエンドツーエンドで暗号化されています", "메시지와 통화는 종단간 암호화되어",
)

# Android system lines have no "Author: ", but some hold ": " inside quotes or after a verb
SYSTEM_VERBS = (
    "created group", "created this group", "changed the subject", "changed the group", "changed this group",
    "added", "removed", "left", "joined using", "pinned a message", "changed their phone number", "changed to",
    "deleted this group", "turned on admin approval", "hat die gruppe", "hat den betreff", "hat das gruppenbild",
    "hat die gruppenbeschreibung", "creó el grupo", "cambió el asunto", "cambió la descripción", "cambió el ícono",
    "a créé le groupe", "a changé le sujet", "a changé la description", "ha creato il gruppo",
    "ha cambiato l'oggetto", "criou o grupo", "alterou o assunto", "mudou o assunto", "создал(а) группу",
    "изменил(а) тему", "изменил(а) название", "grubu oluşturdu", "konuyu değiştirdi", "utworzył(a) grupę",
    "zmienił(a) temat", "heeft de groep", "membuat grup", "mengubah subjek",
)
