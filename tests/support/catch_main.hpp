#pragma once
// A test executable's way to run as another program instead of its tests, before Catch
// parses the command line (tests/support/catch_main.cpp). Define it (once, in the
// executable) to return the process's exit status, or -1 to run the tests as usual:
//
//   int grove_test_take_over(int argc, char** argv) {
//     if (argc > 1 && std::strcmp(argv[1], "--worker") == 0) return run_worker(argc, argv);
//     return -1;
//   }
//
// Declared weak: executables that do not define it link without it.
[[gnu::weak]] int grove_test_take_over(int argc, char** argv);
