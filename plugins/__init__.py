"""The built-in paper-digest plugins. Each module is registered through the ``digest``
entry-point group, exactly as a third-party plugin would be."""
