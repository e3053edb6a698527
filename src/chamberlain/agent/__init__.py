"""`chamberlain agent`: an instance profile's role credentials for the applications on a host.

The agent holds a host credential (an IAM user's access key) that the applications never
see, assumes the instance profile's role with it, keeps the role's temporary credentials
fresh in the background, and serves them on the two local endpoints AWS SDKs' default
credential chains already read: EC2's instance metadata service (IMDSv2) and the container
credentials provider (`AWS_CONTAINER_CREDENTIALS_FULL_URI`).

The agent is a client of a Chamberlain server like any other: it talks to it over the
wire with botocore and imports nothing else of the project.
"""
