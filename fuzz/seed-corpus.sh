#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ (gitignored) with seed inputs taken from the repository's own
# test data, so that mutations start from inputs that reach deep code:
#   handler         one request per golden event (golden/inputs.jsonl), and a batch of three
#   model_json      the golden corpus's JSON exports (golden/corpus/*/model.json, up to 128 KiB)
#   model_compiled  the same exports compiled with catboost-compile
#   predict_rows    lines of golden/corpus/ctr_binary_str_all_types/rows.jsonl
# plus the committed seeds and regressions (fuzz/seeds/<target>/, fuzz/regressions/<target>/).
# Run from anywhere.
set -euo pipefail
fuzz=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$fuzz")
corpus=$fuzz/corpus
mkdir -p "$corpus"/{handler,model_json,model_compiled,predict_rows}

python3 - "$root/golden/inputs.jsonl" "$corpus/handler" <<'PY'
import json, sys
events = [json.loads(line)["event"] for line in open(sys.argv[1])]
for i, event in enumerate(events[:60]):
    with open(f"{sys.argv[2]}/golden-{i:03}", "w") as f:
        json.dump({"records": [event]}, f)
with open(f"{sys.argv[2]}/golden-batch", "w") as f:
    json.dump({"records": events[:3]}, f)
PY

cargo build --quiet --manifest-path "$root/Cargo.toml" -p catboost-eval --bin catboost-compile
target=${CARGO_TARGET_DIR:-$root/target}
for model in "$root"/golden/corpus/*/model.json "$root"/golden/corpus/refused/*/model.json; do
  [ "$(stat -c %s "$model")" -le 131072 ] || continue
  name=$(basename "$(dirname "$model")")
  cp "$model" "$corpus/model_json/$name.json"
  "$target/debug/catboost-compile" --model "$model" --out "$corpus/model_compiled/$name.compiled" \
    2>/dev/null || true # the refused models do not compile
done

split -l 1 -a 3 <(head -n 100 "$root/golden/corpus/ctr_binary_str_all_types/rows.jsonl") \
  "$corpus/predict_rows/golden-"

for t in handler model_json model_compiled predict_rows; do
  for d in seeds regressions; do
    if [ -d "$fuzz/$d/$t" ]; then
      cp "$fuzz/$d/$t"/* "$corpus/$t/"
    fi
  done
done
du -sh "$corpus"/*
