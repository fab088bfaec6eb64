"""``Stack.call``'s other end: ``python -m tests.stack.call module:function`` with
``{"args": [...], "kwargs": {...}}`` on standard input; prints the function's result as JSON
on the last line of standard output. Django runs with the stack's settings (the harness
sets the environment), django-scopes disabled."""
import importlib
import json
import sys


def main():
    target = sys.argv[1]
    payload = json.loads(sys.stdin.read() or "{}")
    import django
    django.setup()
    from django_scopes import scopes_disabled

    module, name = target.split(":")
    fn = getattr(importlib.import_module(module), name)
    with scopes_disabled():
        result = fn(*payload.get("args", ()), **payload.get("kwargs", {}))
    sys.stdout.write("\n" + json.dumps(result, default=str) + "\n")


if __name__ == "__main__":
    main()
