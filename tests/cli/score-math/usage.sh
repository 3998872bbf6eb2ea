# Usage errors exit 2 with the usage line; --help and --version exit 0.
score-math --help > help.txt
head -n 1 help.txt
score-math --version
for bad in "--weight x" "--rtol 2" "--points 0" "--percent some" "--extract boxed,nope" "--places 16" "--places x" "--nope"; do
    set +e; score-math $bad < /dev/null > out 2> err; rc=$?; set -e
    test $rc = 2
    head -n 1 err
done
