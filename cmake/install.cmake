# Installation: the libraries with their headers, an exported target set and a package
# config, so an application outside the tree does
#   find_package(quasi REQUIRED)        # components: ports_x86 (always), jit (when built)
#   target_link_libraries(app PRIVATE quasi::quasi quasi::ports_x86 [quasi::jit])
# and a pkg-config file for the core (quasi.pc). Headers keep the tree's layout under
# include/quasi/, so `#include "stack/socket.hpp"` reads the same inside and outside.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(QUASI_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/quasi)
set(QUASI_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/quasi)

set_target_properties(quasi_ports_x86 PROPERTIES EXPORT_NAME ports_x86)
set(QUASI_INSTALL_TARGETS quasi quasi_ports_x86)
if(TARGET quasi_jit)
  set_target_properties(quasi_jit PROPERTIES EXPORT_NAME jit)
  list(APPEND QUASI_INSTALL_TARGETS quasi_jit)
  install(FILES ${PROJECT_SOURCE_DIR}/jit/specialize.hpp DESTINATION ${QUASI_INSTALL_INCLUDEDIR}/jit)
endif()
install(TARGETS ${QUASI_INSTALL_TARGETS} EXPORT quasi-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${QUASI_INSTALL_INCLUDEDIR})
foreach(dir stack context guards ports/x86)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/ DESTINATION ${QUASI_INSTALL_INCLUDEDIR}/${dir}
          FILES_MATCHING PATTERN "*.hpp")
endforeach()
install(EXPORT quasi-targets NAMESPACE quasi:: DESTINATION ${QUASI_INSTALL_CMAKEDIR})

if(TARGET quasi_jit)
  set(QUASI_PACKAGE_HAS_JIT ON)
else()
  set(QUASI_PACKAGE_HAS_JIT OFF)
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/quasiConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/quasiConfig.cmake
                              INSTALL_DESTINATION ${QUASI_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/quasiConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/quasiConfig.cmake ${PROJECT_BINARY_DIR}/quasiConfigVersion.cmake
        DESTINATION ${QUASI_INSTALL_CMAKEDIR})

# The .pc file finds the prefix from where it lies, so `cmake --install --prefix` works.
file(RELATIVE_PATH QUASI_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
configure_file(${PROJECT_SOURCE_DIR}/cmake/quasi.pc.in ${PROJECT_BINARY_DIR}/quasi.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/quasi.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
