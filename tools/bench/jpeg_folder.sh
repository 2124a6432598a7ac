# Sourced by transfer.sh and loader.sh: builds trex, writes $IMAGES JPEGs of
# 200-500 px in 10 class folders (transfer_images.py) to $work/images, a
# temporary folder removed on exit, and prints the machine line. same_malloc
# is the malloc settings trex-torch makes for itself (trex::keep_freed_memory),
# for the peers' like-for-like runs.
cmake --build build --target trex > /dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 tools/bench/transfer_images.py "$work/images" "$IMAGES"
source tools/bench/machine_line.sh
machine_line "$IMAGES JPEGs of 200-500 px"
same_malloc=(MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=2147483647)
