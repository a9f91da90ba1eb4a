# A user's project folder that tests copy and run as scripts; nothing here is a test.
collect_ignore = ["run_wc.py", "lib"]
