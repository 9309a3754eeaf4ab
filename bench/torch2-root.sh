#!/bin/sh
# A PyTorch 2.x reference for bench/step.ts and bench/torch-check.ts from Debian's own archive: Debian 12 (bookworm)
# packages PyTorch 1.13 only, Debian 13 (trixie) packages 2.6. This builds a minimal trixie root with python3-torch,
# OpenBLAS on OpenMP, and what torch.compile needs (g++, python3-dev, libtorch-dev), and a wrapper that runs its
# python3 with /proc, the repository and /tmp bound in. Nothing is installed into the host system but the wrapper.
# Needs root and debootstrap (apt-get install debootstrap); about 2 GB of disk and a few minutes.
#
#   sudo sh bench/torch2-root.sh [ROOT (default /opt/vhssl-trixie)] [WRAPPER (default /usr/local/bin/python3-torch2)]
#   PYTHON=python3-torch2 npx tsx bench/step.ts --only st
#
# OpenBLAS on OpenMP, not pthreads: with libopenblas0-pthread, PyTorch 2.6's OpenMP threads and OpenBLAS's own
# threads spin against each other, and a bench-st step takes ~500 ms instead of ~42 ms on 2 cores.
set -eu
root=${1:-/opt/vhssl-trixie}
wrapper=${2:-/usr/local/bin/python3-torch2}
repo=$(cd "$(dirname "$0")/.." && pwd)

if [ ! -x "$root/usr/bin/python3" ]; then
  debootstrap --variant=minbase trixie "$root" http://deb.debian.org/debian
fi
chroot "$root" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  python3-torch libopenblas0-openmp python3-setuptools g++ python3-dev libtorch-dev'
multiarch=/usr/lib/x86_64-linux-gnu
chroot "$root" update-alternatives --set libblas.so.3-x86_64-linux-gnu $multiarch/openblas-openmp/libblas.so.3
chroot "$root" update-alternatives --set liblapack.so.3-x86_64-linux-gnu $multiarch/openblas-openmp/liblapack.so.3
chroot "$root" update-alternatives --set libopenblas.so.0-x86_64-linux-gnu $multiarch/openblas-openmp/libopenblas.so.0

cat > "$wrapper" <<EOF
#!/bin/sh
# python3 of the Debian trixie root $root (PyTorch 2.x), made by bench/torch2-root.sh; runs as root (chroot).
set -e
bind() { mkdir -p "$root\$1"; mountpoint -q "$root\$1" || mount --bind "\$1" "$root\$1"; }
mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
bind "$repo"
bind /tmp
exec chroot "$root" python3 "\$@"
EOF
chmod +x "$wrapper"
"$wrapper" -c 'import torch; print("PyTorch", torch.__version__, "oneDNN:", torch.backends.mkldnn.is_available(), "CPU:", torch.backends.cpu.get_cpu_capability())'
echo "PYTHON=$wrapper npx tsx bench/step.ts --only st"
