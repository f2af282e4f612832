"""Where frames come from: a directory of image files, or HTTP requests."""
