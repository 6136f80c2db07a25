# Compiles the web console (web/console/**) and the OpenAPI document (web/openapi.json) into the
# trapline executable: cmake/embed_assets_gen.cmake writes them, plain and gzip-compressed, as the
# C table declared in src/web/assets.h, regenerated whenever one of the files changes.
#
# Included from the top-level CMakeLists.txt after the trapline target. Only the executable gets
# the table; the library's unit tests and fuzz targets see an empty one.

set(TRL_WEB_DIR ${CMAKE_SOURCE_DIR}/web)
set(TRL_WEB_ASSETS_C ${CMAKE_BINARY_DIR}/generated/web_assets.c)
file(GLOB_RECURSE TRL_WEB_FILES CONFIGURE_DEPENDS ${TRL_WEB_DIR}/console/*
     ${TRL_WEB_DIR}/openapi.json)

add_custom_command(
    OUTPUT ${TRL_WEB_ASSETS_C}
    COMMAND ${CMAKE_COMMAND} -DWEB_DIR=${TRL_WEB_DIR} -DOUT=${TRL_WEB_ASSETS_C}
            -DWORK=${CMAKE_BINARY_DIR}/generated/web_assets.tmp
            -P ${CMAKE_CURRENT_LIST_DIR}/embed_assets_gen.cmake
    DEPENDS ${TRL_WEB_FILES} ${CMAKE_CURRENT_LIST_DIR}/embed_assets_gen.cmake
    COMMENT "Embedding the web console and OpenAPI document"
    VERBATIM)

add_library(trl_web_assets OBJECT ${TRL_WEB_ASSETS_C})
target_include_directories(trl_web_assets PRIVATE ${CMAKE_SOURCE_DIR}/src)
target_link_libraries(trapline PRIVATE trl_web_assets)
