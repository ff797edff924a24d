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

# A pkg-config module (or several) as the INTERFACE target grove_deps::<name>; nothing when
# pkg-config or the module is missing (the caller decides whether that is fatal).
function(grove_pkg_target name)
  if(TARGET grove_deps::${name} OR NOT PkgConfig_FOUND)
    return()
  endif()
  string(TOUPPER "GROVE_${name}" prefix)
  pkg_check_modules(${prefix} QUIET IMPORTED_TARGET GLOBAL ${ARGN})
  if(${prefix}_FOUND)
    add_library(grove_deps::${name} INTERFACE IMPORTED GLOBAL)
    target_link_libraries(grove_deps::${name} INTERFACE PkgConfig::${prefix})
  endif()
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
  grove_pkg_target(libevent libevent_core libevent_pthreads)
  set(libevent_FOUND FALSE)
  if(TARGET grove_deps::libevent)
    set(libevent_FOUND TRUE)
  endif()
endmacro()

# liburing (Debian liburing-dev): the io_uring engine. Found at configure time; whether the
# kernel allows io_uring is a run-time question the engine answers (backends/engines/io_uring.cpp).
macro(grove_find_io_uring)
  grove_pkg_target(liburing liburing)
  if(TARGET grove_deps::liburing AND NOT TARGET grove_deps::io_uring)
    add_library(grove_deps::io_uring INTERFACE IMPORTED GLOBAL)
    target_link_libraries(grove_deps::io_uring INTERFACE grove_deps::liburing)
  endif()
  set(io_uring_FOUND FALSE)
  if(TARGET grove_deps::io_uring)
    set(io_uring_FOUND TRUE)
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

macro(grove_require_openssl)
  if(NOT TARGET OpenSSL::SSL)
    find_package(OpenSSL 3 QUIET)
    if(NOT TARGET OpenSSL::SSL)
      grove_missing("OpenSSL 3" "libssl-dev")
    endif()
  endif()
endmacro()

# zlib: WebSocket permessage-deflate (grove::http).
macro(grove_require_zlib)
  if(NOT TARGET ZLIB::ZLIB)
    find_package(ZLIB QUIET)
    if(NOT TARGET ZLIB::ZLIB)
      grove_missing("zlib" "zlib1g-dev")
    endif()
    # Visible to every directory (the tests link it too), found once.
    set_target_properties(ZLIB::ZLIB PROPERTIES IMPORTED_GLOBAL TRUE)
  endif()
endmacro()

# --- database client libraries (the tests' real servers, and the clients layer) ---------
macro(grove_find_libpq)
  grove_pkg_target(libpq libpq)
endmacro()

macro(grove_find_hiredis)
  grove_pkg_target(hiredis hiredis)
endmacro()

macro(grove_require_libpq)
  grove_find_libpq()
  if(NOT TARGET grove_deps::libpq)
    grove_missing("libpq" "libpq-dev")
  endif()
endmacro()

macro(grove_require_hiredis)
  grove_find_hiredis()
  if(NOT TARGET grove_deps::hiredis)
    grove_missing("hiredis" "libhiredis-dev")
  endif()
endmacro()

# kainjow's Mustache (Debian libkainjow-mustache-dev, header-only): the framework's templates.
macro(grove_require_kainjow_mustache)
  if(NOT TARGET grove_deps::kainjow_mustache)
    find_path(GROVE_KAINJOW_MUSTACHE_INCLUDE kainjow/mustache.hpp)
    if(NOT GROVE_KAINJOW_MUSTACHE_INCLUDE)
      grove_missing("kainjow's Mustache header (kainjow/mustache.hpp, for templates)" "libkainjow-mustache-dev")
    endif()
    add_library(grove_deps::kainjow_mustache INTERFACE IMPORTED GLOBAL)
    set_target_properties(grove_deps::kainjow_mustache PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${GROVE_KAINJOW_MUSTACHE_INCLUDE}")
  endif()
endmacro()
