#pragma once
// TREX_PLUGIN(descriptor_fn, Class): exports a plugin's descriptor and factory
// under the fixed alias names every trex library uses.
#include <boost/dll/alias.hpp>

#include "trex/plugin/descriptor.h"

namespace trex {
using DescriptorFn = const Descriptor&();
using FactoryFn = std::unique_ptr<Plugin>(const ParamMap&, const BuildContext&);
inline constexpr const char* kDescriptorAlias = "trex_descriptor";
inline constexpr const char* kFactoryAlias = "trex_factory";
}  // namespace trex

#define TREX_PLUGIN(DESCRIPTOR_FN, FACTORY_FN)    \
  BOOST_DLL_ALIAS(DESCRIPTOR_FN, trex_descriptor) \
  BOOST_DLL_ALIAS(FACTORY_FN, trex_factory)
