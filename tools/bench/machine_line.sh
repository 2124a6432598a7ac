# Sourced by the benchmarks: prints the machine line (CPU, cores, the flags
# that decide precision and kernels, the BLAS that libblas.so.3 resolves to,
# PyTorch's version), so a number is never read without the machine it came from.
machine_line() {
  local cpu flags blas pyt
  cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
  flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512f|avx512_bf16|amx_bf16|amx_tile)$' |
    tr '\n' ' ' | sed 's/ $//')
  blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2> /dev/null | xargs -r dirname | xargs -r basename)
  pyt=$(/usr/bin/python3 -c 'import torch; print(torch.__version__)' 2> /dev/null || echo '?')
  echo "machine: $cpu, $(nproc) cores, flags: ${flags:-none of avx2/avx512f/avx512_bf16/amx}," \
    "BLAS: ${blas:-?}, python torch $pyt${1:+, $1}"
}
