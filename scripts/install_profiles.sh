#!/usr/bin/env bash
# Make `snakemake --profile NAME` find this repository's profiles by name, from any folder:
#
#   bash scripts/install_profiles.sh              # link every profiles/NAME (but `default`) into the user's
#                                                 # Snakemake config folder, e.g. ~/.config/snakemake/slurm
#   bash scripts/install_profiles.sh slurm        # only the named profiles
#   bash scripts/install_profiles.sh --uninstall  # remove the links that point into this repository
#   options: --dir DIR (another target folder), --force (replace a different link of the same name, or move
#            a folder of that name aside to NAME.bak.DATE)
#
# The profiles stay in profiles/ (edits there take effect at once): the config folder only gets symbolic links.
# Running it again changes nothing. The folder is Snakemake's own user config folder, asked from Snakemake where
# it is installed (platformdirs: $XDG_CONFIG_HOME/snakemake, else ~/.config/snakemake on Linux), else
# ${XDG_CONFIG_HOME:-~/.config}/snakemake. `profiles/default` is not linked: it is the workflow profile,
# which Snakemake already finds by itself next to the Snakefile.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd -P)

target_dir=""
force=0
uninstall=0
names=()
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) target_dir=$2; shift 2 ;;
        --dir=*) target_dir=${1#--dir=}; shift ;;
        --force) force=1; shift ;;
        --uninstall) uninstall=1; shift ;;
        -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        -*) echo "install_profiles.sh: unknown option $1" >&2; exit 2 ;;
        *) names+=("$1"); shift ;;
    esac
done

if [ -z "$target_dir" ]; then
    for py in "$REPO/.venv/bin/python" python3; do
        if target_dir=$("$py" -c 'from snakemake.common import get_appdirs; print(get_appdirs().user_config_dir)' \
            2>/dev/null) && [ -n "$target_dir" ]; then
            break
        fi
        target_dir=""
    done
    target_dir=${target_dir:-${XDG_CONFIG_HOME:-$HOME/.config}/snakemake}
fi

if [ ${#names[@]} -eq 0 ]; then
    for d in "$REPO"/profiles/*/; do
        name=$(basename "$d")
        [ "$name" = default ] && continue
        names+=("$name")
    done
fi

status=0
mkdir -p "$target_dir"
for name in "${names[@]}"; do
    src="$REPO/profiles/$name"
    dst="$target_dir/$name"
    if [ ! -d "$src" ]; then
        echo "install_profiles.sh: no profile $src" >&2
        status=1
        continue
    fi
    current=""
    [ -L "$dst" ] && current=$(readlink "$dst")
    if [ "$uninstall" = 1 ]; then
        if [ "$current" = "$src" ]; then
            rm "$dst"
            echo "removed $dst"
        elif [ -e "$dst" ] || [ -L "$dst" ]; then
            echo "left $dst alone: it is not a link to $src"
        fi
        continue
    fi
    if [ "$current" = "$src" ]; then
        echo "profile $name: $dst -> $src (already installed)"
        continue
    fi
    if [ -e "$dst" ] || [ -L "$dst" ]; then
        if [ "$force" != 1 ]; then
            echo "install_profiles.sh: $dst exists${current:+ (a link to $current)}; not replacing it" \
                "(use --force to replace it)" >&2
            status=1
            continue
        fi
        if [ -L "$dst" ]; then
            rm "$dst"
        else
            backup="$dst.bak.$(date +%Y%m%d%H%M%S)"
            mv "$dst" "$backup"
            echo "moved the existing $dst to $backup"
        fi
    fi
    ln -s "$src" "$dst"
    echo "profile $name: $dst -> $src"
done
[ "$uninstall" = 1 ] || [ "$status" -ne 0 ] || echo "now \`snakemake --profile ${names[0]:-NAME}\` works from any folder"
exit "$status"
