"""speaker_loss: the role word of every turn after the first carries the loss (who writes next), nobody else's words."""

from clonekit.train.tokenize import IGNORE, tokenize_example

MESSAGES = [
    {"role": "system", "content": "You are Maya."},
    {"role": "user", "name": "Sam", "content": "food?"},
    {"role": "assistant", "name": "Maya", "content": "yesss", "weight": 1},
    {"role": "user", "name": "Oliver", "content": "Count me in."},
]


def _learnt(tokenizer, template, speaker_loss: bool) -> str:
    tok = tokenize_example(tokenizer, template, MESSAGES, speaker_loss)
    return "|".join(tokenizer.decode([t]) for t in tok.labels if t != IGNORE)


def test_role_words_after_the_first_turn_carry_the_loss(tok, template):
    assert _learnt(tok, template, False) == "y|ess|s|<|im_end|>"
    with_speakers = _learnt(tok, template, True)
    assert with_speakers == "ass|istant|y|ess|s|<|im_end|>|user"  # Maya's turn opens, Oliver's opens
    assert "Sam" not in with_speakers
    assert "Count" not in with_speakers
    assert "Oliver" not in with_speakers
