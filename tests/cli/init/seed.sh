# --seed decides the weights: same seed, same bytes; another seed differs.
init -s 7 -o a && init --seed 7 -o b && init -s 8 -o c &&
cmp a/model.safetensors b/model.safetensors &&
cmp a/config.json b/config.json &&
! cmp -s a/model.safetensors c/model.safetensors &&
init -o d && init -s 0 -o e && cmp d/model.safetensors e/model.safetensors &&
echo ok
