#!/bin/sh
# Container entrypoint: seed an empty corpus volume with the packaged default corpus, then hand
# over to the byline CLI (`run` by default; `ask "..."`, `index`, `healthcheck`, ...).
# The index is not built here: byline builds it itself on first use when it is missing.
set -eu

corpus=${BYLINE_CORPUS_PATH:-/data/corpus}

if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus" 2>/dev/null)" ]; then
    default=$(python3 -c 'import corpus, pathlib; print(pathlib.Path(corpus.__file__).parent / "default")')
    if mkdir -p "$corpus" 2>/dev/null && cp -R "$default/." "$corpus/"; then
        echo "byline: seeded $corpus with the default corpus" >&2
    else
        echo "byline: warning: could not seed $corpus (not writable by $(id -un)?)" >&2
    fi
fi

exec byline "$@"
