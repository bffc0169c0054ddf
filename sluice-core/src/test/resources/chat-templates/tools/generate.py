#!/usr/bin/env python3
"""Regenerates the expected outputs of Sluice's template tests with Python Jinja2 in Hugging Face's
environment (hf_env.py). Run from anywhere: python3 generate.py  (needs jinja2 >= 3.1).

Writes, next to this folder:
  jinja-cases.json     generic Jinja2 snippets (jinja_cases.py) and their results
  conversations.json   the conversations (conversations.py), including the seeded random ones
  expected.json        every templates/*.jinja rendered on every conversation
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jinja2  # noqa: E402

from conversations import conversations  # noqa: E402
from hf_env import make_env, render  # noqa: E402
from jinja_cases import CASES  # noqa: E402

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write(name, data):
    with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=1, sort_keys=False)
        f.write("\n")


def main():
    if tuple(int(x) for x in jinja2.__version__.split(".")[:2]) < (3, 1):
        sys.exit("jinja2 >= 3.1 required (Hugging Face's minimum), found " + jinja2.__version__)
    env = make_env()
    cases = []
    for template, variables in CASES:
        cases.append({"template": template, "vars": variables, "result": render(env, template, variables)})
    write("jinja-cases.json", {"jinja2": jinja2.__version__, "cases": cases})

    convs = conversations()
    write("conversations.json", convs)
    tdir = os.path.join(HERE, "templates")
    expected = {"jinja2": jinja2.__version__, "templates": {}}
    for name in sorted(os.listdir(tdir)):
        if not name.endswith(".jinja"):
            continue
        with open(os.path.join(tdir, name), encoding="utf-8", newline="") as f:
            source = f.read()
        results = {}
        for conv in convs:
            variables = {
                "messages": conv["messages"],
                "tools": conv.get("tools"),
                "documents": conv.get("documents"),
                "add_generation_prompt": conv["add_generation_prompt"],
                "bos_token": conv["bos_token"],
                "eos_token": conv["eos_token"],
                **conv.get("kwargs", {}),
            }
            results[conv["name"]] = render(env, source, variables)
        expected["templates"][name] = results
    write("expected.json", expected)


if __name__ == "__main__":
    main()
