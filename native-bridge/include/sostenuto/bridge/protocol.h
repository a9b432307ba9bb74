// Everything about the wire protocol, for users who want all of it.
#pragma once

#include "sostenuto/bridge/protocol_decoder.h"
#include "sostenuto/bridge/protocol_encoder.h"
#include "sostenuto/bridge/protocol_error.h"
#include "sostenuto/bridge/protocol_frame_reader.h"
#include "sostenuto/bridge/protocol_messages.h"
