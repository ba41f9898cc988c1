"""The model server of the job image: SageMaker hosting (and batch transform) starts the image
with the argument `serve`.

The container contract for hosting: SageMaker unpacks the model's model.tar.gz (what the Train
job wrote: model.joblib, an sklearn pipeline with its preprocessing, or a script's model and its
code/, and model_metadata.json) into /opt/ml/model (`$OPT_ML_ROOT/model`), and expects an HTTP
server on port 8080 (`$SAGEMAKER_BIND_TO_PORT` when set) with
    GET  /ping         200 once the model is loaded
    POST /invocations  predictions

Modules, one concern each:
    schema     the input schema (feature names in order, their types) from the model dir
    requests   request bodies (CSV, JSON) as typed columns, and the 4xx they can earn
    responses  Accept negotiation and the answer's body
    lean       a built-in model's fitted encoders and estimator applied to typed arrays
    model      the loaded model: how a request's records are scored
    app        the ASGI application (/ping, /execution-parameters, /invocations)
    server     gunicorn running the application, an asyncio worker per core (`serve`)
"""
