# bash completion for strata: made from its table of commands (strata completion bash).
# Source it, or install it as bash-completion/completions/strata.
_strata() {
  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
  local flags="" valued=" " words=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "unpack bundle inspect analyse referrers ls cat export squash diff repack pull copy mount umount store completion help --help --version" -- "$cur"))
    return
  fi
  case "${COMP_WORDS[1]}" in
    help) COMPREPLY=($(compgen -W "unpack bundle inspect analyse referrers ls cat export squash diff repack pull copy mount umount store completion" -- "$cur"))
      return ;;
    unpack)
      flags="--store --platform --creds --username --password --password-stdin --registry-token --no-creds --authfile --cert-dir --registries-conf --tls-verify --downloads --rootless --record --json --max-entries --max-total-bytes --max-file-size --max-path-length --max-depth --max-header-size --quiet -q --help -h"
      valued=" --store --platform --creds --username --password --registry-token --authfile --cert-dir --registries-conf --downloads --record --max-entries --max-total-bytes --max-file-size --max-path-length --max-depth --max-header-size "
      ;;
    bundle)
      flags="--store --platform --creds --username --password --password-stdin --registry-token --no-creds --authfile --cert-dir --registries-conf --tls-verify --downloads --rootless --record --json --tty --args --env --cwd --user --max-entries --max-total-bytes --max-file-size --max-path-length --max-depth --max-header-size --quiet -q --help -h"
      valued=" --store --platform --creds --username --password --registry-token --authfile --cert-dir --registries-conf --downloads --record --args --env --cwd --user --max-entries --max-total-bytes --max-file-size --max-path-length --max-depth --max-header-size "
      ;;
    inspect)
      flags="--platform --creds --username --password --password-stdin --registry-token --no-creds --authfile --cert-dir --registries-conf --tls-verify --json --quiet -q --help -h"
      valued=" --platform --creds --username --password --registry-token --authfile --cert-dir --registries-conf "
      ;;
    analyse)
      flags="--json --html --fail-wasted --fail-efficiency --top --platform --creds --username --password --password-stdin --registry-token --no-creds --authfile --cert-dir --registries-conf --tls-verify --max-entries --max-total-bytes --max-file-size --max-path-length --max-depth --max-header-size --quiet -q --help -h"
      valued=" --html --fail-wasted --fail-efficiency --top --platform --creds --username --password --registry-token --authfile --cert-dir --registries-conf --max-entries --max-total-bytes --max-file-size --max-path-length --max-depth --max-header-size "
      ;;
    referrers)
      flags="--artifact-type --platform --creds --username --password --password-stdin --registry-token --no-creds --authfile --cert-dir --registries-conf --tls-verify --json --quiet -q --help -h"
      valued=" --artifact-type --platform --creds --username --password --registry-token --authfile --cert-dir --registries-conf "
      ;;
    ls)
      flags="--recursive -R --platform --creds --username --password --password-stdin --registry-token --no-creds --authfile --cert-dir --registries-conf --tls-verify --json --max-entries --max-total-bytes --max-file-size --max-path-length --max-depth --max-header-size --quiet -q --help -h"
      valued=" --platform --creds --username --password --registry-token --authfile --cert-dir --registries-conf --max-entries --max-total-bytes --max-file-size --max-path-length --max-depth --max-header-size "
      ;;
    cat)
      flags="--platform --creds --username --password --password-stdin --registry-token --no-creds --authfile --cert-dir --registries-conf --tls-verify --max-entries --max-total-bytes --max-file-size --max-path-length --max-depth --max-header-size --quiet -q --help -h"
      valued=" --platform --creds --username --password --registry-token --authfile --cert-dir --registries-conf --max-entries --max-total-bytes --max-file-size --max-path-length --max-depth --max-header-size "
      ;;
    export)
      flags="--output -o --platform --creds --username --password --password-stdin --registry-token --no-creds --authfile --cert-dir --registries-conf --tls-verify --max-entries --max-total-bytes --max-file-size --max-path-length --max-depth --max-header-size --quiet -q --help -h"
      valued=" --output -o --platform --creds --username --password --registry-token --authfile --cert-dir --registries-conf --max-entries --max-total-bytes --max-file-size --max-path-length --max-depth --max-header-size "
      ;;
    squash)
      flags="--compress --platform --creds --username --password --password-stdin --registry-token --no-creds --authfile --cert-dir --registries-conf --tls-verify --json --quiet -q --help -h"
      valued=" --compress --platform --creds --username --password --registry-token --authfile --cert-dir --registries-conf "
      case "$prev" in
        --compress) words="gzip zstd none" ;;
      esac
      ;;
    diff)
      flags="--output -o --rootless --root --quiet -q --help -h"
      valued=" --output -o "
      ;;
    repack)
      flags="--compress --record --rootless --root --created-by --platform --creds --username --password --password-stdin --registry-token --no-creds --authfile --cert-dir --registries-conf --tls-verify --json --quiet -q --help -h"
      valued=" --compress --record --created-by --platform --creds --username --password --registry-token --authfile --cert-dir --registries-conf "
      case "$prev" in
        --compress) words="gzip zstd none" ;;
      esac
      ;;
    pull)
      flags="--platform --creds --username --password --password-stdin --registry-token --no-creds --authfile --cert-dir --registries-conf --tls-verify --json --quiet -q --help -h"
      valued=" --platform --creds --username --password --registry-token --authfile --cert-dir --registries-conf "
      ;;
    copy)
      flags="--all -a --format -f --platform --creds --username --password --password-stdin --registry-token --no-creds --authfile --cert-dir --registries-conf --tls-verify --json --dest-creds --dest-username --dest-password --dest-password-stdin --dest-registry-token --dest-no-creds --dest-authfile --dest-cert-dir --dest-registries-conf --dest-tls-verify --quiet -q --help -h"
      valued=" --format -f --platform --creds --username --password --registry-token --authfile --cert-dir --registries-conf --dest-creds --dest-username --dest-password --dest-registry-token --dest-authfile --dest-cert-dir --dest-registries-conf "
      case "$prev" in
        --format|-f) words="oci v2s2" ;;
      esac
      ;;
    mount)
      flags="--store --writable --platform --creds --username --password --password-stdin --registry-token --no-creds --authfile --cert-dir --registries-conf --tls-verify --json --quiet -q --help -h"
      valued=" --store --platform --creds --username --password --registry-token --authfile --cert-dir --registries-conf "
      ;;
    umount)
      flags="--store --quiet -q --help -h"
      valued=" --store "
      ;;
    store)
      flags="--store --platform --json --quiet -q --help -h"
      valued=" --store --platform "
      ;;
    completion)
      flags="--quiet -q --help -h"
      valued="  "
      ;;
  esac
  if [ -n "$words" ]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  elif [[ "$valued" == *" $prev "* ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  elif [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "oci: oci-archive: docker-archive: docker://" -- "$cur") $(compgen -f -- "$cur"))
  fi
}
complete -o default -o nospace -F _strata strata
