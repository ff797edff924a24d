// Holds the test executables' precompiled catch.hpp (tests/CMakeLists.txt, grove_test_pch):
// the header is force-included here, and Catch's main comes from grove_test_main.
