// Why a parse failed: an optional drop reason (empty means the bytes are fine).
#pragma once

#include "stack/stats.hpp"

#include <optional>

namespace quasi {

using WireError = std::optional<Drop>;
constexpr WireError kWireOk = std::nullopt;

}  // namespace quasi
