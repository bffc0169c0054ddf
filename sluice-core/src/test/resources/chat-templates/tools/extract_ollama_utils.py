#!/usr/bin/env python3
"""Writes the real chat templates this test suite uses into ../templates/, taken from the npm package
@huggingface/ollama-utils (its src/chat-template-automap.ts maps Ollama library models to the
tokenizer.chat_template found in their GGUF files, i.e. the models' published templates).

    cd "$(mktemp -d)" && npm pack @huggingface/ollama-utils@0.0.18 && tar xzf huggingface-ollama-utils-0.0.18.tgz
    python3 extract_ollama_utils.py "$PWD/package"
"""
import os
import re
import sys

# template file -> Ollama library model whose GGUF template it is (the README says which HF model that is)
SELECTED = {
    "Qwen3-0.6B.jinja": "library/qwen3:0.6b",
    "Qwen2.5-0.5B-Instruct.jinja": "library/qwen2.5:0.5b",
    "Qwen2.5-Coder-1.5B-Instruct.jinja": "library/qwen2.5-coder:1.5b",
    "QwQ-32B.jinja": "library/qwq:32b",
    "Qwen3-Coder-30B-A3B-Instruct.jinja": "library/qwen3-coder:30b",
    "Meta-Llama-3-8B-Instruct.jinja": "library/llama3:8b",
    "Llama-3.1-8B-Instruct.jinja": "library/llama3.1:8b",
    "Llama-3.2-3B-Instruct.jinja": "library/llama3.2:3b",
    "Llama-4-Scout-17B-16E-Instruct.jinja": "library/llama4:latest",
    "gemma-2-2b-it.jinja": "library/gemma2:2b",
    "gemma-3-1b-it.jinja": "library/gemma3:1b",
    "Phi-3-mini-4k-instruct.jinja": "library/phi3:3.8b",
    "Phi-3.5-mini-instruct.jinja": "library/phi3.5:3.8b",
    "phi-4.jinja": "library/phi4:14b",
    "Phi-4-mini-instruct.jinja": "library/phi4-mini:3.8b",
    "Mistral-7B-Instruct.jinja": "library/mistral:7b-instruct-fp16",
    "Mistral-Small-24B-Instruct-2501.jinja": "library/mistral-small:24b",
    "Devstral-Small.jinja": "library/devstral:latest",
    "DeepSeek-V3.jinja": "library/deepseek-v3:671b",
    "DeepSeek-V3.1.jinja": "library/deepseek-v3.1:latest",
    "DeepSeek-R1-Distill-Llama-8B.jinja": "library/deepseek-r1:8b",
    "DeepSeek-R1-0528-Qwen3-8B.jinja": "library/deepseek-r1:latest",
    "granite-3.3-2b-instruct.jinja": "library/granite3.3:2b",
    "granite-4.0.jinja": "library/granite4:latest",
    "Hermes-3-Llama-3.1-70B.jinja": "library/hermes3:70b",
    "c4ai-command-r-v01.jinja": "library/command-r:35b",
    "c4ai-command-r7b-12-2024.jinja": "library/command-r7b:7b",
    "SmolLM2-135M-Instruct.jinja": "library/smollm2:135m",
}

ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0", "\\": "\\", "'": "'", '"': '"', "`": "`", "\n": ""}


def js_string(s, i):
    """Parses the JavaScript string literal starting at s[i]; returns (value, index after it)."""
    q = s[i]
    out = []
    i += 1
    while s[i] != q:
        c = s[i]
        if c == "\\":
            e = s[i + 1]
            if e == "u":
                out.append(chr(int(s[i + 2:i + 6], 16)))
                i += 6
                continue
            if e == "x":
                out.append(chr(int(s[i + 2:i + 4], 16)))
                i += 4
                continue
            out.append(ESCAPES.get(e, e))
            i += 2
            continue
        out.append(c)
        i += 1
    value = "".join(out)
    # JS strings are UTF-16: join surrogate pairs written as two \\u escapes
    return value.encode("utf-16", "surrogatepass").decode("utf-16"), i + 1


def main(package_dir):
    with open(os.path.join(package_dir, "src", "chat-template-automap.ts"), encoding="utf-8") as f:
        src = f.read()
    found = {}
    for m in re.finditer(r'model: "([^"]+)",\s*gguf:\s*', src):
        value, _ = js_string(src, m.end())
        found.setdefault(m.group(1), value)
    out_dir = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "templates")
    for name, model in SELECTED.items():
        with open(os.path.join(out_dir, name), "w", encoding="utf-8", newline="") as f:
            f.write(found[model])
        print(f"{name}: {model} ({len(found[model])} chars)")


if __name__ == "__main__":
    main(sys.argv[1])
