# Source this at the start of a device call: installs the carried wheels (.whl/, e.g. diffusers) into
# /tmp/site and puts them and the repo on PYTHONPATH. Usage: source benchmarks/gpu_setup.sh
# The GPU image has torch, accelerate, huggingface_hub and safetensors but not diffusers (nor its need
# importlib_metadata); fetch them here once (.whl/ is git-ignored) and carry `.whl`:
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux2014_x86_64 -d .whl diffusers==0.42.1 importlib_metadata
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  && export PYTHONPATH=/tmp/site:$PWD:${PYTHONPATH:-} && export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, diffusers; print('torch', torch.__version__, 'diffusers', diffusers.__version__)"
