"""Hugging Face transformers' chat-template environment, rebuilt from its documented behaviour
(transformers.utils.chat_template_utils._compile_jinja_template): an ImmutableSandboxedEnvironment with
trim_blocks and lstrip_blocks, the loopcontrols extension, a {% generation %} tag, HF's tojson filter and
the raise_exception / strftime_now globals. strftime_now reads a fixed time so outputs are reproducible."""
import json
from datetime import datetime

import jinja2
import jinja2.nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

# The instant every expected output was rendered at; the Java tests use the same one.
FIXED_NOW = datetime(2025, 3, 7, 14, 5, 9)


class Generation(Extension):
    """HF's AssistantTracker tag, without the assistant-mask bookkeeping: the body renders unchanged."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

    def _generation_support(self, caller):
        return caller()


def make_env(now=FIXED_NOW):
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[Generation, loopcontrols])

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return now.strftime(format)

    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(env, source, variables):
    """{"output": text} or {"error": kind, "message": text}; kind "raised" for raise_exception."""
    try:
        template = env.from_string(source)
    except jinja2.TemplateSyntaxError as e:
        return {"error": "syntax", "message": str(e)}
    try:
        return {"output": template.render(**variables)}
    except jinja2.TemplateError as e:
        kind = "raised" if type(e) is jinja2.exceptions.TemplateError else "runtime"
        return {"error": kind, "message": str(e)}
    except Exception as e:  # TypeError, ValueError, OverflowError... from Python itself
        return {"error": "runtime", "message": f"{type(e).__name__}: {e}"}
