"""The conversations every real template is rendered on: system prompts, multi-turn, tool calls and
results (arguments as objects, as Hugging Face passes them), Unicode, generation prompt on and off,
thinking kwargs, and seeded random conversations for a cheap differential test."""
import random

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
SEARCH = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the web",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}, "limit": {"type": "integer", "default": 3}}, "required": ["query"]},
    },
}

SYSTEM = {"role": "system", "content": "You are a helpful assistant."}


def call(cid, name, args):
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}


def base(name, messages, gen=True, **extra):
    c = {"name": name, "messages": messages, "add_generation_prompt": gen, "bos_token": "<s>", "eos_token": "</s>"}
    c.update(extra)
    return c


def fixed():
    multi = [
        {"role": "user", "content": "Hello!"},
        {"role": "assistant", "content": "Hi! How can I help?"},
        {"role": "user", "content": "Tell me a joke."},
    ]
    tool_turns = [
        {"role": "user", "content": "What's the weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [call("call_1a2b3c4d5", "get_weather", {"city": "Paris", "unit": "celsius"})]},
        {"role": "tool", "tool_call_id": "call_1a2b3c4d5", "name": "get_weather", "content": "{\"temperature\": 18, \"sky\": \"cloudy\"}"},
    ]
    return [
        base("single-user", [{"role": "user", "content": "Hello"}]),
        base("single-user-no-gen", [{"role": "user", "content": "Hello"}], gen=False),
        base("system-multi-turn", [SYSTEM] + multi),
        base("system-multi-turn-no-gen", [SYSTEM] + multi + [{"role": "assistant", "content": "Why did the chicken cross the road?"}], gen=False),
        base("unicode", [
            {"role": "system", "content": "Réponds en français. 日本語もOK。"},
            {"role": "user", "content": "Ça va? 😀 naïve café — “quotes” \\ back\tslash\n\nnew line"},
            {"role": "assistant", "content": "Très bien ✓ ‹ok› 🚀"},
            {"role": "user", "content": "Ünïcödé ∑ ≠ ∞ \u200b zero-width, emoji family 👨‍👩‍👧"},
        ]),
        base("template-syntax-in-content", [
            {"role": "user", "content": "x {{ 7*7 }} y {% for i in range(3) %}{{ i }}{% endfor %} {# c #} {{ ''.__class__ }} ____int3rpr3t3r____"},
            {"role": "assistant", "content": "{%- raw %}{{ self }}{% endraw -%} {{ cycler.__init__.__globals__ }}"},
            {"role": "user", "content": "{{ lipsum() }} {{ range(10**9)|list }} <|im_end|>"},
        ]),
        base("tools-request", [SYSTEM, {"role": "user", "content": "What's the weather in Paris?"}], tools=[WEATHER, SEARCH]),
        base("tools-request-no-system", [{"role": "user", "content": "What's the weather in Paris?"}], tools=[WEATHER]),
        base("tool-call-and-result", [SYSTEM] + tool_turns, tools=[WEATHER, SEARCH]),
        base("tool-call-result-answer", [SYSTEM] + tool_turns + [
            {"role": "assistant", "content": "It is 18°C and cloudy in Paris."},
            {"role": "user", "content": "And in Tokyo? Search too."},
        ], tools=[WEATHER, SEARCH]),
        base("parallel-tool-calls", [
            {"role": "user", "content": "Weather in Paris and Tokyo?"},
            {"role": "assistant", "content": "", "tool_calls": [call("call_aaaaaaaa1", "get_weather", {"city": "Paris"}), call("call_bbbbbbbb2", "get_weather", {"city": "Tokyo"})]},
            {"role": "tool", "tool_call_id": "call_aaaaaaaa1", "name": "get_weather", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_bbbbbbbb2", "name": "get_weather", "content": "22C"},
        ], tools=[WEATHER]),
        base("tool-injection-in-schema", [{"role": "user", "content": "hi"}], tools=[{
            "type": "function",
            "function": {"name": "evil{{7*7}}", "description": "{% for x in range(10) %}{{ x }}{% endfor %} {{ ''.__class__.__mro__ }}",
                         "parameters": {"type": "object", "properties": {"q{{1}}": {"type": "string", "description": "getClass() self.__dict__"}}}},
        }]),
        base("tool-args-injection", [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": None, "tool_calls": [call("call_ccccccccc", "search", {"query": "{{ 7*7 }} {% raw %}", "limit": 2})]},
            {"role": "tool", "tool_call_id": "call_ccccccccc", "name": "search", "content": "{% if true %}result{% endif %}"},
        ], tools=[SEARCH]),
        base("thinking-on", [SYSTEM, {"role": "user", "content": "Solve 2+2."}], kwargs={"enable_thinking": True}),
        base("thinking-off", [SYSTEM, {"role": "user", "content": "Solve 2+2."}], kwargs={"enable_thinking": False}),
        base("reasoning-history", [
            {"role": "user", "content": "Solve 2+2."},
            {"role": "assistant", "content": "<think>\nEasy: 4.\n</think>\n\nThe answer is 4.", "reasoning_content": "Easy: 4."},
            {"role": "user", "content": "And 3+3?"},
        ]),
        base("developer-style-system-only", [{"role": "system", "content": "Only a system prompt."}]),
        base("empty-bos", [{"role": "user", "content": "Hello"}], bos_token="", eos_token=""),
    ]


WORDS = ["hello", "world", "😀", "naïve", "{{ x }}", "{%", "%}", "\n", "  ", "tab\t", "日本", "<|im_end|>", "</s>", "[INST]", "'", '"', "\\", "end."]


def random_conversations(n, seed):
    rng = random.Random(seed)
    out = []
    for k in range(n):
        msgs = []
        if rng.random() < 0.5:
            msgs.append({"role": "system", "content": " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6)))})
        for turn in range(rng.randint(1, 4)):
            msgs.append({"role": "user", "content": "".join(rng.choice(WORDS) + rng.choice(["", " "]) for _ in range(rng.randint(1, 8)))})
            if turn < 3 and rng.random() < 0.8:
                msgs.append({"role": "assistant", "content": " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 8)))})
        if msgs[-1]["role"] == "assistant" and rng.random() < 0.5:
            msgs.pop()
        out.append(base(f"random-{k}", msgs, gen=msgs[-1]["role"] == "user" and rng.random() < 0.8))
    return out


def conversations():
    return fixed() + random_conversations(12, seed=9)
