"""Generated protobuf modules for the Diego BBS models; regenerate with bbs/proto/regenerate.sh."""
