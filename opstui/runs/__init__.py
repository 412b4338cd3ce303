"""Run Command logic shared by the Run Command tab and `opstui run`: targets and blast radius, the run
tracker that polls a command's progress and output, output grouping and node-set folding, export.

No textual imports here (the CLI uses it too) and no botocore: AWS calls go through `opstui.aws`.
"""
