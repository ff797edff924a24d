# `cmake --install`: headers, libraries, a CMake package (find_package(grove) with grove::*
# targets) and a pkg-config file.
include(CMakePackageConfigHelpers)

install(TARGETS ${GROVE_EXPORTED_TARGETS} EXPORT grove-targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT grove-targets NAMESPACE grove:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/grove)

# What the installed targets need found again in the consumer's build.
set(GROVE_CONFIG_EXTRA_DEPS "")
set(GROVE_PC_EXTRA_LIBS "")
if(TARGET grove_aio)
  string(APPEND GROVE_CONFIG_EXTRA_DEPS "grove_require_curl()\n")
  string(APPEND GROVE_PC_EXTRA_LIBS " -lcurl")
endif()
if(TARGET grove_green)
  string(APPEND GROVE_CONFIG_EXTRA_DEPS "grove_require_boost_context()\n")
  string(APPEND GROVE_PC_EXTRA_LIBS " -lboost_context")
endif()
if(TARGET grove_http)
  string(APPEND GROVE_CONFIG_EXTRA_DEPS "grove_require_cli11()\ngrove_require_openssl()\ngrove_require_zlib()\n")
  string(APPEND GROVE_PC_EXTRA_LIBS " -lz")
endif()
if(TARGET grove_tls)
  string(APPEND GROVE_CONFIG_EXTRA_DEPS "grove_require_openssl()\n")
  string(APPEND GROVE_PC_EXTRA_LIBS " -lssl -lcrypto")
endif()
if(TARGET grove_pg)
  string(APPEND GROVE_CONFIG_EXTRA_DEPS "grove_require_libpq()\n")
  string(APPEND GROVE_PC_EXTRA_LIBS " -lpq")
endif()
if(TARGET grove_web AND NOT TARGET grove_tls)
  string(APPEND GROVE_CONFIG_EXTRA_DEPS "grove_require_openssl()\n")
  string(APPEND GROVE_PC_EXTRA_LIBS " -lcrypto")
endif()

configure_package_config_file(cmake/grove-config.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/grove-config.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/grove)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/grove-config-version.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/grove-config.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/grove-config-version.cmake
  cmake/GroveDependencies.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/grove)

# pkg-config: the libraries in dependency order, with the engines' libraries as private.
set(GROVE_PC_LIBS "")
foreach(t IN LISTS GROVE_EXPORTED_TARGETS)
  get_target_property(out ${t} OUTPUT_NAME)
  string(PREPEND GROVE_PC_LIBS "-l${out} ")
endforeach()
# The libraries are static, so their dependencies go in Libs (libevent before libev: see
# the engine list in CMakeLists.txt).
set(GROVE_PC_DEP_LIBS "")
if("libevent" IN_LIST GROVE_BUILT_ENGINES)
  string(APPEND GROVE_PC_DEP_LIBS " -levent_core -levent_pthreads")
endif()
if("libev" IN_LIST GROVE_BUILT_ENGINES)
  string(APPEND GROVE_PC_DEP_LIBS " -lev")
endif()
if("io_uring" IN_LIST GROVE_BUILT_ENGINES)
  string(APPEND GROVE_PC_DEP_LIBS " -luring")
endif()
set(GROVE_PC_DEP_LIBS "${GROVE_PC_DEP_LIBS} ${GROVE_PC_EXTRA_LIBS} -lpthread -ldl")
configure_file(cmake/grove.pc.in ${CMAKE_CURRENT_BINARY_DIR}/grove.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/grove.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
# compat's interposers are an archive member nothing references: a program that wants them
# asks for grove-compat, whose Libs come before grove's and keep that member in the link.
if(TARGET grove_compat)
  configure_file(cmake/grove-compat.pc.in ${CMAKE_CURRENT_BINARY_DIR}/grove-compat.pc @ONLY)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/grove-compat.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endif()
