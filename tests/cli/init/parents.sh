# -o a/b/c creates the missing directories above the checkpoint, as
# mkdir -p would; a file in the way is an error naming it.
init -o a/b/c &&
ls a/b/c/config.json a/b/c/model.safetensors &&
init -o a/b/d/ && ls a/b/d/config.json &&
touch f &&
{ init -o f/x/ck; echo "exit $?"; } 2>&1 &&
echo ok
