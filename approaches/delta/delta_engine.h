/*
 * delta_engine.h - the delta approach's moving parts, independent of the
 * harness, in one include: a destination's store and its receiver
 * (delta_store.h), the sender that runs cycles against one destination
 * (delta_sender.h), and the hub that fans one source out to N destinations
 * (delta_hub.h). The hub builds on the other two; the store and the sender
 * know nothing of each other or of the hub.
 */
#ifndef MEMSYNC_DELTA_ENGINE_H
#define MEMSYNC_DELTA_ENGINE_H

#include "delta_hub.h"
#include "delta_sender.h"
#include "delta_store.h"

#endif
