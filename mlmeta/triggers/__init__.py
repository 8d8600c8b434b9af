"""Front doors to the publish pipeline: something was promoted -> the specs to publish -> events.

``watch`` polls the registry, ``webhook`` listens for MLflow's deliveries; both find what is in
Production now (``promotions.current``), hand the specs of each promotion to the same pipeline
``mlmeta publish`` runs (``promotions.act``), and turn each promotion they acted on into one
event (``mlmeta.events``). They call down into ``publish``; ``publish`` never imports them.
"""
