-- wrk script for bench/run_web_files.sh: every request POSTs the same multipart/form-data
-- body, one file part of UPLOAD_BYTES bytes (the same bytes to every route, so the routes
-- differ only in how they read them).
local size = tonumber(os.getenv("UPLOAD_BYTES") or "10485760")
local boundary = "grove-bench-boundary-7d3f"
wrk.method = "POST"
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
wrk.body = "--" .. boundary .. "\r\n" ..
  "Content-Disposition: form-data; name=\"file\"; filename=\"upload.bin\"\r\n" ..
  "Content-Type: application/octet-stream\r\n\r\n" ..
  string.rep("u", size) ..
  "\r\n--" .. boundary .. "--\r\n"
