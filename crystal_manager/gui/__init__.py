"""The Qt face: tray, window, dialogs. It renders and wires signals; the work lives in services."""
