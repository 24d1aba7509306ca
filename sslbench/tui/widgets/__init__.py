"""Small widgets: charts and the confusion heat map."""
