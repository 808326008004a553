# dealwire_proto_library(NAME name GRPC_NAME name PROTO_ROOT dir PROTOS files...)
#
# Generates C++ message and gRPC service code for PROTOS (paths relative to
# PROTO_ROOT) into the build tree and compiles it into TWO static libraries,
# so the slow generated code is compiled once and reused:
#   NAME       the messages (*.pb.cc), headers under gen/; links protobuf only.
#   GRPC_NAME  the services (*.grpc.pb.cc), headers under gen-grpc/; links
#              NAME and gRPC. Only targets that link it can include a
#              *.grpc.pb.h: the layering of the project is kept by the build.
function(dealwire_proto_library)
  cmake_parse_arguments(ARG "" "NAME;GRPC_NAME;PROTO_ROOT" "PROTOS" ${ARGN})
  set(msg_dir "${CMAKE_CURRENT_BINARY_DIR}/gen")
  set(grpc_dir "${CMAKE_CURRENT_BINARY_DIR}/gen-grpc")
  file(MAKE_DIRECTORY "${msg_dir}" "${grpc_dir}")
  get_target_property(grpc_plugin gRPC::grpc_cpp_plugin LOCATION)
  set(msg_sources "")
  set(grpc_sources "")
  foreach(proto IN LISTS ARG_PROTOS)
    string(REGEX REPLACE "\\.proto$" "" stem "${proto}")
    set(msg_outs "${msg_dir}/${stem}.pb.cc" "${msg_dir}/${stem}.pb.h")
    set(grpc_outs "${grpc_dir}/${stem}.grpc.pb.cc" "${grpc_dir}/${stem}.grpc.pb.h")
    add_custom_command(
      OUTPUT ${msg_outs} ${grpc_outs}
      COMMAND protobuf::protoc
        -I "${ARG_PROTO_ROOT}"
        --cpp_out "${msg_dir}"
        --grpc_out "${grpc_dir}"
        --plugin=protoc-gen-grpc=${grpc_plugin}
        "${ARG_PROTO_ROOT}/${proto}"
      DEPENDS "${ARG_PROTO_ROOT}/${proto}" protobuf::protoc gRPC::grpc_cpp_plugin
      COMMENT "protoc ${proto}"
      VERBATIM)
    list(APPEND msg_sources ${msg_outs})
    list(APPEND grpc_sources ${grpc_outs})
  endforeach()
  add_library(${ARG_NAME} STATIC ${msg_sources})
  # Generated headers are included as <dealwire/v1/x.pb.h>; SYSTEM keeps their
  # warnings out of our builds.
  target_include_directories(${ARG_NAME} SYSTEM PUBLIC "${msg_dir}")
  target_link_libraries(${ARG_NAME} PUBLIC protobuf::libprotobuf)
  add_library(${ARG_GRPC_NAME} STATIC ${grpc_sources})
  target_include_directories(${ARG_GRPC_NAME} SYSTEM PUBLIC "${grpc_dir}")
  target_link_libraries(${ARG_GRPC_NAME} PUBLIC ${ARG_NAME} gRPC::grpc++)
endfunction()
