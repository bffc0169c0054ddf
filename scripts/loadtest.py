#!/usr/bin/env python3
"""Drives any OpenAI-compatible server (Sluice, llama-server) with N concurrent streaming clients.

Each client sends one streaming /v1/completions request (greedy, ignore_eos, fixed max_tokens) with
its own prompt, and records time to first token and its generation speed. With --json-schema FILE the
answers are constrained by that schema (llama.cpp's json_schema field, which both servers take) and
end where the grammar does; speeds then count the streamed pieces. Standard library only, so
the same script measures both engines. Loopback only: pass a URL on this machine.

  scripts/loadtest.py --url http://127.0.0.1:8080 --clients 16 --max-tokens 64 --prompt-words 100
"""
import argparse
import http.client
import json
import statistics
import threading
import time
import urllib.parse

WORDS = "the a little girl named lily loved to play outside in park one day she saw big red ball".split()


def prompt_for(i, n_words):
    # Distinct per client (its index first), so no client is served from another's prefix cache.
    words = [f"client{i}"] + [WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(n_words - 1)]
    return " ".join(words)


def one_client(url, i, args, results):
    u = urllib.parse.urlparse(url)
    req = {
        "model": args.model, "prompt": prompt_for(i, args.prompt_words), "max_tokens": args.max_tokens,
        "temperature": 0, "stream": True, "ignore_eos": True,
    }
    if args.schema is not None:
        # Constrained: the grammar decides when the answer ends (no ignore_eos; speed over the tokens that came).
        req["json_schema"] = args.schema
        del req["ignore_eos"]
    body = json.dumps(req)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=args.timeout)
    t0 = time.perf_counter()
    first = None
    pieces = 0
    try:
        conn.request("POST", "/v1/completions", body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        if resp.status != 200:
            results[i] = {"error": f"HTTP {resp.status}: {resp.read()[:200]!r}"}
            return
        for raw in resp:
            line = raw.decode("utf-8", "replace").strip()
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            chunk = json.loads(data)
            choices = chunk.get("choices") or []
            if choices and choices[0].get("text"):
                pieces += 1
                if first is None:
                    first = time.perf_counter()
        t1 = time.perf_counter()
        results[i] = {"ttft": (first or t1) - t0, "total": t1 - t0, "pieces": pieces,
                      "tps": ((pieces if args.schema is not None else args.max_tokens) - 1) / (t1 - first) if first and t1 > first else 0.0}
    except Exception as e:  # a failed client is reported, not hidden
        results[i] = {"error": repr(e)}
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--model", default="model")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--prompt-words", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--label", default="server")
    ap.add_argument("--json-schema", dest="schema_file", default=None,
                    help="constrain every answer by this JSON Schema file (llama.cpp's json_schema field)")
    args = ap.parse_args()
    args.schema = None
    if args.schema_file:
        with open(args.schema_file, encoding="utf-8") as f:
            args.schema = json.load(f)
    host = urllib.parse.urlparse(args.url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("loopback URLs only")
    results = [None] * args.clients
    threads = [threading.Thread(target=one_client, args=(args.url, i, args, results)) for i in range(args.clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    errors = [r["error"] for r in results if "error" in r]
    ok = [r for r in results if "error" not in r]
    if not ok:
        raise SystemExit(f"all clients failed: {errors[:3]}")
    ttft = [r["ttft"] for r in ok]
    tps = [r["tps"] for r in ok]
    summary = {
        "label": args.label, "clients": args.clients, "ok": len(ok), "errors": len(errors),
        "max_tokens": args.max_tokens, "prompt_words": args.prompt_words, "wall_s": round(wall, 3),
        "ttft_median_s": round(statistics.median(ttft), 3), "ttft_max_s": round(max(ttft), 3),
        "tps_per_client_median": round(statistics.median(tps), 2),
        "aggregate_tps": round(sum(r["pieces"] if args.schema is not None else args.max_tokens for r in ok) / wall, 2),
        "tokens_median": statistics.median(r["pieces"] for r in ok),
    }
    print(json.dumps(summary))
    if errors:
        print("errors:", errors[:5])


if __name__ == "__main__":
    main()
