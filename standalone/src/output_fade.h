// The standalone's underrun fade: native-bridge's GapFade, which the plug-in uses too.
// The standalone resets it with start_in_gap = true, so the first audio it plays fades in.
#pragma once

#include "sostenuto/bridge/gap_fade.h"

namespace sostenuto::standalone {

using OutputFade = bridge::GapFade;

}  // namespace sostenuto::standalone
