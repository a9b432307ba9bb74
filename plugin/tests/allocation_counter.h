// Counts heap allocations made by the calling thread while armed. The test
// executable that links allocation_counter.cpp replaces malloc & co. and
// operator new for the whole process - including a plug-in loaded with dlopen
// (the executable exports them, so the dynamic linker binds the plug-in's
// calls to them).
#pragma once

#include <cstddef>

namespace sostenuto::test {

void arm_allocation_counter() noexcept;
// Disarms and returns the allocations counted since arming.
std::size_t disarm_allocation_counter() noexcept;

}  // namespace sostenuto::test
