"""`clonekit export`: the merged HF model, and GGUF files that llama.cpp (llama-cpp-python, the real engine) runs
token for token like the merged model under transformers, with the training chat template in their metadata."""

import json

import pytest
from typer.testing import CliRunner

from clonekit.cli import app
from clonekit.errors import ClonekitError
from clonekit.train.export import export
from clonekit.train.export_check import greedy_llama_cpp, greedy_transformers

PROMPTS = ["plans for tonight? pizza?", "did u see the match", "where r we meeting", "lol same", "who's driving?"]


def prompts_for(tokenizer, template: str) -> list[str]:
    return [
        tokenizer.apply_chat_template(
            [
                {"role": "system", "content": "You are Deniz."},
                {"role": "user", "name": "Maya", "content": text},
                {"role": "user", "name": "Bora", "content": "me too"},
            ],
            chat_template=template,
            add_generation_prompt=True,
            tokenize=False,
        )
        for text in PROMPTS
    ]


@pytest.fixture(scope="module")
def exported(trained_clone, tmp_path_factory):
    run = trained_clone[0]
    d = tmp_path_factory.mktemp("export")
    return run, export(run, "hf", d / "hf", log=lambda s: None), d


@pytest.mark.slow
def test_hf_export_loads_and_keeps_the_template(exported):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run, hf, _ = exported
    manifest = json.loads((hf / "clonekit-export.json").read_text())
    assert manifest["format"] == "hf"
    assert manifest["source_run"] == str(run.resolve())
    assert manifest["base"]["sha256"] == json.loads((run / "clonekit.json").read_text())["base"]["sha256"]
    tok = AutoTokenizer.from_pretrained(hf)
    assert tok.chat_template == (run / "chat_template.jinja").read_text()  # transformers and vLLM pick it up
    model = AutoModelForCausalLM.from_pretrained(hf)
    assert model.generation_config.eos_token_id == tok.convert_tokens_to_ids("<|im_end|>")


def greedy_hf(model_dir, prompts, n=32):
    """(prompt, prompt ids, the first n greedy tokens under transformers, up to and including the end of turn)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    ids = [tok(p, add_special_tokens=False).input_ids for p in prompts]
    return list(zip(prompts, ids, greedy_transformers(model_dir, ids, n), strict=True))


@pytest.mark.slow
@pytest.mark.parametrize("quant", ["f16", "q8_0"])
def test_gguf_greedy_parity_with_the_merged_model(exported, quant):
    """The first 32 greedy tokens of 5 prompts under llama.cpp equal transformers' on the merged model. A wrong
    rotary layout of q/k (HF's halves vs llama.cpp's interleaving) would break this at the first token."""
    pytest.importorskip("llama_cpp")
    run, hf, d = exported
    path = export(run, "gguf", d / quant, quant=quant, log=lambda s: None)
    assert path.name.endswith(f".{quant.upper()}.gguf")
    template = (run / "chat_template.jinja").read_text()
    from transformers import AutoTokenizer

    reference = greedy_hf(hf, prompts_for(AutoTokenizer.from_pretrained(hf), template))
    llm, got = greedy_llama_cpp(path, [ids for _, ids, _ in reference])
    for (text, ids, want), tokens in zip(reference, got, strict=True):
        assert llm.tokenize(text.encode(), add_bos=False, special=True) == ids, text  # the same tokenizer
        assert tokens == want, text
    assert llm.metadata["tokenizer.chat_template"] == template
    assert (
        int(llm.metadata["tokenizer.ggml.eos_token_id"]) == llm.tokenize(b"<|im_end|>", add_bos=False, special=True)[0]
    )
    manifest = json.loads(path.with_name(path.name + ".json").read_text())
    assert manifest["quantization"] == quant
    assert path.name in manifest["files"]


@pytest.mark.slow
def test_q4_k_m_through_llama_cpps_quantizer(exported):
    pytest.importorskip("llama_cpp")
    run, _, d = exported
    runner = CliRunner()
    result = runner.invoke(app, ["export", str(run), "-f", "gguf", "-q", "q4_k_m", "-o", str(d / "q4.gguf")])
    assert result.exit_code == 0, result.output
    from llama_cpp import Llama

    llm = Llama(model_path=str(d / "q4.gguf"), n_ctx=256, verbose=False)
    assert int(llm.metadata["general.file_type"]) == 15  # LLAMA_FTYPE_MOSTLY_Q4_K_M
    assert llm.n_vocab() == 49152
    completion = llm.create_completion("hi", max_tokens=4, temperature=0)
    assert completion["usage"]["completion_tokens"] >= 1


def test_bad_requests_are_clear_errors(trained_clone, tmp_path):
    run = trained_clone[0]
    with pytest.raises(ClonekitError, match="unknown export format"):
        export(run, "onnx", tmp_path / "x")
    with pytest.raises(ClonekitError, match="unknown GGUF quantization"):
        export(run, "gguf", tmp_path / "x", quant="q3")
    result = CliRunner().invoke(app, ["export", str(tmp_path / "nothing"), "-o", str(tmp_path / "y")])
    assert result.exit_code != 0
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_the_gguf_template_renders_a_three_speaker_chat_as_training_does(exported):
    """llama-cpp-python's chat formatter, with the template from the GGUF's metadata, renders a 3-speaker chat to
    the same text as transformers with the run's training template."""
    pytest.importorskip("llama_cpp")
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter
    from transformers import AutoTokenizer

    run, hf, d = exported
    path = export(run, "gguf", d / "template", quant="q8_0", log=lambda s: None)
    from gguf import GGUFReader

    embedded = GGUFReader(str(path)).fields["tokenizer.chat_template"].contents()
    chat = [
        {"role": "system", "content": "You are Deniz. Reply as Deniz."},
        {"role": "user", "name": "Maya", "content": "pizza tonight?"},
        {"role": "user", "name": "Bora", "content": "im in\nbut late"},
        {"role": "assistant", "content": "ben varım abi"},
        {"role": "user", "name": "Maya", "content": "ok 8pm"},
    ]
    want = AutoTokenizer.from_pretrained(hf).apply_chat_template(
        chat, chat_template=(run / "chat_template.jinja").read_text(), add_generation_prompt=True, tokenize=False
    )
    got = Jinja2ChatFormatter(template=embedded, eos_token="<|im_end|>", bos_token="<|im_start|>")(messages=chat).prompt
    assert got == want
    assert "user Maya" in got
    assert "user Bora" in got


@pytest.mark.slow
def test_f16_gguf_of_a_clone_of_the_default_model_matches_transformers(tmp_path):
    """The bundled SmolLM2-135M (30 layers, 9 heads / 3 KV heads, rope theta 1e5) with a trained adapter: the f16
    GGUF's greedy replies under llama.cpp equal the merged model's under transformers, to the end-of-turn token."""
    pytest.importorskip("llama_cpp")
    from transformers import AutoTokenizer

    from clonekit.config import TrainConfig
    from clonekit.train import train
    from tests.helpers import sample_dataset

    ds = sample_dataset(tmp_path, weeks=1)
    cfg = TrainConfig(base="default", max_steps=2, max_seq_len=256, row_tokens=512, eval_every=2, learning_rate=1e-3)
    run = train(cfg, ds, tmp_path / "run", show_progress=False, log=lambda s: None)
    hf = export(run, "hf", tmp_path / "hf", log=lambda s: None)
    path = export(run, "gguf", tmp_path / "gguf", quant="f16", log=lambda s: None)
    reference = greedy_hf(hf, prompts_for(AutoTokenizer.from_pretrained(hf), (run / "chat_template.jinja").read_text()))
    _, got = greedy_llama_cpp(path, [ids for _, ids, _ in reference])
    assert [tokens for _, _, tokens in reference] == got
    # the adapter alone (GQA: 3 KV heads, B's k rows permuted per KV head) on the base's f16 GGUF: the same replies
    adapter = export(run, "lora-gguf", tmp_path / "lora", quant="f16", with_base=True, log=lambda s: None)
    _, with_lora = greedy_llama_cpp(tmp_path / "lora" / "base.F16.gguf", [ids for _, ids, _ in reference], lora=adapter)
    assert [tokens for _, _, tokens in reference] == with_lora
