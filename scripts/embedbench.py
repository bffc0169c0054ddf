#!/usr/bin/env python3
"""Embeddings per second of any OpenAI-compatible server (Sluice, llama-server --embeddings).

N inputs of T token ids each (random, distinct, between [CLS]=101 and [SEP]=102 as WordPiece models
have them; the same ids for every server given the same --seed) go to POST /v1/embeddings, one input
per request, from C concurrent clients on keep-alive connections, after a warm-up of C requests. Prints
one JSON line: inputs/s over the wall time, and request latency percentiles. Standard library only, so
the same script measures both engines. Loopback only: pass a URL on this machine.

  scripts/embedbench.py --url http://127.0.0.1:8080 --inputs 256 --tokens 64 --concurrency 16
"""
import argparse
import http.client
import json
import random
import statistics
import threading
import time
import urllib.parse


def make_inputs(n, tokens, vocab, seed):
    rng = random.Random(seed)
    return [[101] + [rng.randrange(1000, vocab) for _ in range(tokens - 2)] + [102] for _ in range(n)]


def worker(url, jobs, lock, latencies, errors, model):
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    while True:
        with lock:
            if not jobs:
                break
            ids = jobs.pop()
        body = json.dumps({"model": model, "input": [ids]})
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/v1/embeddings", body=body, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200 or not json.loads(data)["data"][0]["embedding"]:
                raise RuntimeError(f"status {resp.status}: {data[:200]!r}")
            latencies.append(time.perf_counter() - t0)
        except Exception as e:  # noqa: BLE001 - reported, counted
            errors.append(str(e))
            conn.close()
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    conn.close()


def run(url, inputs, concurrency, model):
    jobs = list(inputs)
    lock = threading.Lock()
    latencies, errors = [], []
    threads = [threading.Thread(target=worker, args=(url, jobs, lock, latencies, errors, model)) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, latencies, errors


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--inputs", type=int, default=256)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--vocab", type=int, default=30522)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--model", default="embed")
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    host = urllib.parse.urlparse(args.url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("loopback URLs only")
    inputs = make_inputs(args.inputs, args.tokens, args.vocab, args.seed)
    run(args.url, make_inputs(args.concurrency, args.tokens, args.vocab, args.seed + 1000), args.concurrency, args.model)  # warm-up
    wall, lat, errors = run(args.url, inputs, args.concurrency, args.model)
    lat.sort()
    q = lambda p: round(1000 * lat[min(len(lat) - 1, int(p * len(lat)))], 1) if lat else None
    print(json.dumps({"label": args.label, "inputs": args.inputs, "tokens": args.tokens, "concurrency": args.concurrency,
                      "ok": len(lat), "errors": len(errors), "wall_s": round(wall, 3),
                      "inputs_per_s": round(len(lat) / wall, 2), "p50_ms": q(0.5), "p90_ms": q(0.9),
                      "mean_ms": round(1000 * statistics.mean(lat), 1) if lat else None,
                      "first_error": errors[0] if errors else None}))


if __name__ == "__main__":
    main()
