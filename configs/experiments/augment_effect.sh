#!/usr/bin/env bash
# The effect of the offline augmentations on the synthetic demo set, end to end: data, features,
# augmented rows, one training per variant, predictions on the evaluate split, and one table of the
# per-device-group accuracies side by side (the columns of the paper's Table 1).
#
#   none     original clips only
#   without  + mix, noise, pitch, speed, spectrum correction   (Table 1 row 6: "5*Aug", no reverb+DRC)
#   with     + reverb-drc as well                               (Table 1 row 7)
#
# Every step skips what is already done and an interrupted training is resumed, so rerunning the
# script after a stop continues it. Environment variables:
#   ROOT=data/demo STORE=stores/demo RUNS=runs PRESET=demo   where things go, and the synth preset
#   VARIANTS="none without with"                              which trainings to run
#   TRAIN_SET="--set trainer.precision=bf16-mixed"            extra overrides for every training
#   ASCKIT=asckit                                             the command (e.g. ".venv/bin/asckit")
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=${ROOT:-data/demo}
STORE=${STORE:-stores/demo}
RUNS=${RUNS:-runs}
PRESET=${PRESET:-demo}
VARIANTS=${VARIANTS:-none without with}
ASCKIT=${ASCKIT:-asckit}
read -r -a TRAIN_SET_ARGS <<< "${TRAIN_SET:-}"

[ -e "$ROOT" ] || $ASCKIT data synth "$ROOT" --preset "$PRESET"
$ASCKIT features "$ROOT" --out "$STORE"
$ASCKIT augment "$ROOT" --kind all --out "$STORE"

metrics=()
for variant in $VARIANTS; do
  run="$RUNS/augment_effect_$variant"
  if [ ! -f "$run/predictions/evaluate.tsv" ]; then
    resume=()
    [ -f "$run/config.yaml" ] && resume=(--resume)
    $ASCKIT train "$HERE/augment_effect_$variant.yaml" --set "data.root=$ROOT" --set "data.store=$STORE" \
      --set "runs_dir=$RUNS" "${TRAIN_SET_ARGS[@]}" "${resume[@]}"
    $ASCKIT predict-split "$run" --split evaluate
  fi
  $ASCKIT evaluate "$run/predictions/evaluate.tsv" --root "$ROOT" --out "$run/evaluate" > /dev/null
  metrics+=("$run/evaluate/metrics.json")
done

# One table: a row per variant, the Table 1 columns (group accuracy = mean of its devices').
PYTHON=${PYTHON:-$(dirname "$(command -v "$ASCKIT")")/python}
"$PYTHON" - "${metrics[@]}" <<'EOF'
import json, sys
from pathlib import Path
from asckit.metrics import TABLE1_COLUMNS, table1_row

print(f"{'variant':<24}" + "".join(f"{c:>10}" for c in TABLE1_COLUMNS))
for path in sys.argv[1:]:
    row = table1_row(json.loads(Path(path).read_text()))
    cells = [
        "–" if row[c] is None else (f"{row[c]:.3f}" if c == "val_loss" else f"{100 * row[c]:.1f}")
        for c in TABLE1_COLUMNS
    ]
    print(f"{Path(path).parent.parent.name:<24}" + "".join(f"{cell:>10}" for cell in cells))
EOF
