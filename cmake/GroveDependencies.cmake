# Finds grove's dependencies, all from Debian packages, and defines grove_deps::* targets.
# Used by the build and, installed next to grove-config.cmake, by consumers of an installed
# grove. A missing package stops configuration with the apt-get line that installs it.
include_guard(GLOBAL)
include(FindPackageHandleStandardArgs)
find_package(PkgConfig QUIET)
find_package(Threads REQUIRED)

function(grove_missing what package)
  message(FATAL_ERROR
    "grove: ${what} was not found. Install it with:\n"
    "  sudo apt-get install -y ${package}\n"
    "or run scripts/install-deps.sh, which installs every package grove needs.")
endfunction()

# --- engines: each returns <name>_FOUND without failing; the caller decides --------------
macro(grove_find_libev)
  if(NOT TARGET grove_deps::libev)
    find_path(GROVE_LIBEV_INCLUDE ev.h)
    find_library(GROVE_LIBEV_LIBRARY ev)
    if(GROVE_LIBEV_INCLUDE AND GROVE_LIBEV_LIBRARY)
      add_library(grove_deps::libev UNKNOWN IMPORTED)
      set_target_properties(grove_deps::libev PROPERTIES
        IMPORTED_LOCATION "${GROVE_LIBEV_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${GROVE_LIBEV_INCLUDE}")
    endif()
  endif()
  set(libev_FOUND FALSE)
  if(TARGET grove_deps::libev)
    set(libev_FOUND TRUE)
  endif()
endmacro()

macro(grove_find_libevent)
  if(NOT TARGET grove_deps::libevent AND PkgConfig_FOUND)
    pkg_check_modules(GROVE_LIBEVENT QUIET IMPORTED_TARGET GLOBAL libevent_core libevent_pthreads)
    if(GROVE_LIBEVENT_FOUND)
      add_library(grove_deps::libevent INTERFACE IMPORTED GLOBAL)
      target_link_libraries(grove_deps::libevent INTERFACE PkgConfig::GROVE_LIBEVENT)
    endif()
  endif()
  set(libevent_FOUND FALSE)
  if(TARGET grove_deps::libevent)
    set(libevent_FOUND TRUE)
  endif()
endmacro()

macro(grove_find_asio)
  if(NOT TARGET grove_deps::asio)
    find_path(GROVE_ASIO_INCLUDE asio.hpp)
    if(GROVE_ASIO_INCLUDE)
      add_library(grove_deps::asio INTERFACE IMPORTED GLOBAL)
      set_target_properties(grove_deps::asio PROPERTIES
        INTERFACE_INCLUDE_DIRECTORIES "${GROVE_ASIO_INCLUDE}"
        INTERFACE_COMPILE_DEFINITIONS "ASIO_STANDALONE;ASIO_NO_DEPRECATED")
      target_link_libraries(grove_deps::asio INTERFACE Threads::Threads)
    endif()
  endif()
  set(asio_FOUND FALSE)
  if(TARGET grove_deps::asio)
    set(asio_FOUND TRUE)
  endif()
endmacro()

# --- libraries every build needs ---------------------------------------------------------
macro(grove_require_boost_context)
  if(NOT TARGET Boost::context)
    find_package(Boost 1.74 QUIET COMPONENTS context)
    if(NOT TARGET Boost::context)
      grove_missing("Boost.Context" "libboost-context-dev")
    endif()
  endif()
endmacro()

macro(grove_require_curl)
  if(NOT TARGET CURL::libcurl)
    find_package(CURL QUIET)
    if(NOT TARGET CURL::libcurl)
      grove_missing("libcurl" "libcurl4-openssl-dev")
    endif()
  endif()
endmacro()

macro(grove_require_cli11)
  if(NOT TARGET CLI11::CLI11)
    find_package(CLI11 QUIET CONFIG)
    if(NOT TARGET CLI11::CLI11)
      grove_missing("CLI11" "libcli11-dev")
    endif()
  endif()
endmacro()
