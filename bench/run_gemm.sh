#!/usr/bin/env bash
# The forward GEMMs and dispatch costs at both thread settings (see
# run_threads.sh); a later --form wins, e.g. bench/run_gemm.sh --form all.
exec "$(dirname "${BASH_SOURCE[0]}")/run_threads.sh" gemm --form forward "$@"
