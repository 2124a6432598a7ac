#pragma once
// Seeds for every random stream of a run, derived from the spec's seed and
// the stream's coordinates (epoch, sample, purpose), so results depend on
// neither the thread count nor where a run was resumed. The mixer itself is
// in the plugin API (trex/plugin/seed_mix.h), which plugins may use too.
#include "trex/plugin/seed_mix.h"
