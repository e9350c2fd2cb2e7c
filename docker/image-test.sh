#!/usr/bin/env bash
# make image-test: the README's Docker commands against msmonai:cpu (make image-cpu) on a small demo cohort in a
# mounted /data, each as the image's non-root user with --network none, the root file system read-only and only /data
# and /tmp writable; evaluation's metrics compared with the same commands run outside the container; nothing of the
# data in the image; the one-line refusals; and the multi-node torchrun command as two containers (host network, gloo).
# Prints one PASS/FAIL line per check and exits non-zero if any failed. Environment: IMAGE (msmonai:cpu), PYTHON
# (.venv/bin/python, for the commands outside), KEEP=1 keeps the work folder.
set -uo pipefail
cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-msmonai:cpu}
PYTHON=${PYTHON:-.venv/bin/python}
DOCKER=$(docker/docker-cli.sh)
BUNDLE=/opt/msmonai/bundles/ms_activity_resnet3d
RECIPE=(--overlay configs/cpu_small.json --num-epochs 2 --set "spatial_size=[12,48,48]")
work=$(mktemp -d /tmp/msmonai-image-test.XXXXXX)
data=$work/data
failed=0
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT

check() {  # check NAME COMMAND...: run, print PASS/FAIL
  local name=$1; shift
  if "$@" > "$work/last.log" 2>&1; then echo "PASS $name"; else echo "FAIL $name"; tail -5 "$work/last.log" | sed 's/^/     /'; failed=1; fi
}
refused() {  # refused NAME EXPECTED DOCKER-RUN-ARGS...: the container's last line contains EXPECTED
  local name=$1 expected=$2 last; shift 2
  last=$($DOCKER run --rm --network none "$@" 2>&1 >/dev/null | grep -v '^[[:space:]]*$' | tail -1)
  if [[ "$last" == *"$expected"* ]]; then echo "PASS $name: $last"; else echo "FAIL $name: last line: $last"; failed=1; fi
}
in_container() {  # the README's form: non-root (the image's user), no network, read-only code, /data and /tmp only
  $DOCKER run --rm --network none --read-only --tmpfs /tmp -v "$data:/data" "$@"
}

$DOCKER image inspect "$IMAGE" > /dev/null 2>&1 || { echo "image-test: error: $IMAGE missing; run make image-cpu" >&2; exit 1; }
"$PYTHON" -m msmonai.cli demo-data --out "$data/cohort" --patients 12 --seed 0 > /dev/null
chown -R 10001:10001 "$data"

# the README's commands, in the container
check "manifest in the container" in_container --entrypoint msmonai "$IMAGE" manifest --dicom /data/cohort/dicom \
  --clinical /data/cohort/clinical.csv --out /data/datalist.json --folds 4 --test-fold 3 --secret-file /data/site.key --quiet
check "bundle entrypoint: monai.bundle run of train.json" in_container -w "$BUNDLE" "$IMAGE" run \
  --config_file "['configs/train.json','configs/cpu_small.json']" --bundle_root /data/runs/bundle_run --num_epochs 1 \
  --spatial_size "[12,48,48]"
check "msmonai train in the container" in_container --entrypoint msmonai "$IMAGE" train --bundle "$BUNDLE" \
  --datalist /data/datalist.json --out /data/model "${RECIPE[@]}"
check "msmonai evaluate in the container" in_container --entrypoint msmonai "$IMAGE" evaluate /data/model \
  --datalist /data/datalist.json --out /data/evaluation --mc-samples 0 --n-boot 200
first_patient=$(ls "$data/cohort/dicom" | head -1)
check "msmonai predict in the container" in_container --entrypoint msmonai "$IMAGE" predict --bundle /data/model \
  --dicom "/data/cohort/dicom/$first_patient" --clinical /data/cohort/clinical.csv --out /data/report \
  --secret-file /data/site.key --mc-samples 3 --quiet
check "outputs exist" test -s "$data/model/models/model.pt" -a -s "$data/evaluation/metrics.json" \
  -a -s "$data/report/report.html" -a -s "$data/runs/bundle_run/models/model.pt"

# the same training and evaluation outside the container, on the same data and seed
outside=$work/outside
check "msmonai train outside" "$PYTHON" -m msmonai.cli train --bundle bundles/ms_activity_resnet3d \
  --datalist "$data/datalist.json" --out "$outside/model" "${RECIPE[@]}"
check "msmonai evaluate outside" "$PYTHON" -m msmonai.cli evaluate "$outside/model" --datalist "$data/datalist.json" \
  --out "$outside/evaluation" --mc-samples 0 --n-boot 200
check "evaluation inside equals outside" "$PYTHON" - "$data/evaluation/metrics.json" "$outside/evaluation/metrics.json" <<'EOF'
import json, sys
inside, outside = (json.load(open(path)) for path in sys.argv[1:])
keys = ("roc_auc", "pr_auc", "accuracy", "f1", "threshold")
differences = {k: abs((inside[k] or 0) - (outside[k] or 0)) for k in keys}
print("inside", {k: inside[k] for k in keys}, "outside", {k: outside[k] for k in keys})
sys.exit(0 if max(differences.values()) <= 1e-6 else 1)
EOF

# nothing of the data entered the image: its file list (installed packages' own test files aside) and history
container=$($DOCKER create "$IMAGE")
$DOCKER export "$container" | tar -t > "$work/image_files.txt"; $DOCKER rm "$container" > /dev/null
check "no DICOM, datalist, secret, cache or weights in the image" bash -c "grep -v '/site-packages/' \
  '$work/image_files.txt' | { ! grep -E '\\.dcm$|case_[0-9]+/|datalist[^/]*\\.json$|site.*\\.key$|bundles/[^/]+/(models|eval|logs|cache)/'; }"
check "the CA bundle is in no layer" bash -c "! $DOCKER history --no-trunc '$IMAGE' | grep -iE 'BEGIN CERTIFICATE|ca_bundle=|PIP_CERT=/etc'"

# one-line refusals
refused "no /data mount" "/data is not mounted" --read-only --tmpfs /tmp --entrypoint msmonai "$IMAGE" inspect /data/x
refused "datalist outside /data" "outside /data" -v "$data:/data" --entrypoint msmonai "$IMAGE" evaluate /data/model \
  --datalist /srv/datalist.json --out /data/e2
refused "read-only output folder" "not writable by uid 10001" -v "$data:/data:ro" --entrypoint msmonai "$IMAGE" \
  evaluate /data/model --datalist /data/datalist.json --out /data/e3
refused "started as root" "refusing to run as root" --user 0 -v "$data:/data" "$IMAGE" run --config_file x.json

# two nodes: the multi-node command of docs/deployment.md as two containers on this machine (host network, gloo)
node() {  # --pid host: torchrun names a node by host name and process id, and under the host network both containers
  # have the host's name and would both run torchrun as pid 1: the rendezvous took the second node for the first
  timeout 900 $DOCKER run --rm --network host --pid host --read-only --tmpfs /tmp -v "$data:/data" -w "$BUNDLE" --entrypoint torchrun "$IMAGE" \
    --nnodes 2 --nproc_per_node 1 --rdzv_backend c10d --rdzv_endpoint 127.0.0.1:29477 --rdzv_id msmonai-image-test \
    -m monai.bundle run --config_file "['configs/train.json','configs/cpu_small.json','configs/multi_gpu_train.json']" \
    --bundle_root /data/runs/two_nodes --num_epochs 1 --spatial_size "[12,48,48]" --datalist /data/datalist.json
}
node > "$work/node0.log" 2>&1 & first=$!
node > "$work/node1.log" 2>&1; second=$?
wait $first; first=$?
check "two nodes: both ranks finish" test "$first" = 0 -a "$second" = 0
check "two nodes: the rank-0 checkpoint, once" bash -c \
  "test \$(find '$data/runs/two_nodes/models' -name model.pt | wc -l) = 1"

# the PACS round trip from the container, where Orthanc is installed: pacs predict --store against an Orthanc on this
# machine started from docs/pacs/orthanc.json on a free loopback port (host network: the PACS is the network it needs)
if command -v Orthanc > /dev/null && command -v curl > /dev/null && [ -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ]; then
  free_port() { "$PYTHON" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"; }
  port=$(free_port)
  pacs_user="msmonai:$("$PYTHON" -c "import json; print(json.load(open('docs/pacs/orthanc.json'))['RegisteredUsers']['msmonai'])")"
  "$PYTHON" -c "import json, sys; c = json.load(open('docs/pacs/orthanc.json')); c.update(HttpPort=$port, DicomPort=$(free_port),
StorageDirectory='$work/orthanc', IndexDirectory='$work/orthanc'); json.dump(c, open('$work/orthanc.json', 'w'))"
  Orthanc "$work/orthanc.json" > "$work/orthanc.log" 2>&1 & orthanc=$!
  for _ in $(seq 50); do curl -sf -u "$pacs_user" "http://127.0.0.1:$port/system" > /dev/null && break; sleep 0.2; done
  find "$data/cohort/dicom/$first_patient" -name '*.dcm' -exec curl -sf -u "$pacs_user" -o /dev/null \
    "http://127.0.0.1:$port/instances" --data-binary @{} \;
  printf '%s\n' "${pacs_user#msmonai:}" > "$data/pacs-password"
  chown 10001:10001 "$data/pacs-password" && chmod 600 "$data/pacs-password"
  patient_id=$("$PYTHON" -c "import pydicom, pathlib; \
print(pydicom.dcmread(min(pathlib.Path('$data/cohort/dicom/$first_patient').rglob('*.dcm'))).PatientID)")
  check "msmonai pacs predict --store in the container" $DOCKER run --rm --network host --read-only --tmpfs /tmp \
    -v "$data:/data" --entrypoint msmonai "$IMAGE" pacs predict --url "http://127.0.0.1:$port/dicom-web" \
    --username msmonai --password-file /data/pacs-password --patient-id "$patient_id" \
    --clinical /data/cohort/clinical.csv --bundle /data/model --out /data/pacs-report --secret-file /data/site.key \
    --mc-samples 0 --quiet --store
  check "the SR stored in the PACS, report.dcm beside the report" bash -c "test -s '$data/pacs-report/report.dcm' &&
    curl -sf -u '$pacs_user' 'http://127.0.0.1:$port/tools/find' -d '{\"Level\": \"Series\", \"Query\": {\"Modality\": \"SR\"}}' \
    | grep -q '[0-9a-f]'"
  kill "$orthanc"
else
  echo "SKIP the PACS round trip: Orthanc with its DICOMweb plugin, or curl, is not installed"
fi

[ "$failed" = 0 ] && echo "image-test: all checks passed ($IMAGE)" || echo "image-test: some checks FAILED ($IMAGE)"
exit "$failed"
