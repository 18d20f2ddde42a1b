// The toolchain's version, printed by --version and written into generated files.
#pragma once

constexpr const char* kToolchainVersion = "0.1.0";
